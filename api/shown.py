"""Hidden numbers in the API's answers: every client number an answer carries passes through ``numbers(ctx)``,
the caller's view of it — masked (``+7 916 ***-**-67``) for the roles and departments ``privacy`` hides them
from, as on the pages. A masked caller still dials: ``POST /api/v1/calls/originate`` takes a contact's id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from privacy.masking import MaskPolicy
from privacy.wiring import mask_policy

if TYPE_CHECKING:
    from api.operations import Ctx

NUMBER_KINDS = frozenset({"phone", "whatsapp"})  # contacts whose value is a phone number


@dataclass(frozen=True, slots=True)
class Numbers:
    policy: MaskPolicy
    role: str | None
    department_id: int | None

    @property
    def masked(self) -> bool:
        return self.policy.masks(self.role, self.department_id)

    def __call__(self, value: str | None) -> str | None:
        """A client's number as the caller may see it (None stays None)."""
        return None if value is None else self.policy.shown(value, self.role, self.department_id)

    def contact(self, kind: str, value: str) -> str:
        """A contact's value: a number masked, an email or a messenger's id as it is."""
        return self.policy.shown(value, self.role, self.department_id) if str(kind) in NUMBER_KINDS else value

    def call_sides(self, direction: str, caller: str | None, callee: str | None) -> tuple[str | None, str | None]:
        """The client's side of a call masked: the caller of an inbound call, the callee of an outbound one
        (an internal call has no client side; an unknown direction masks both)."""
        client_caller = direction not in ("outbound", "internal")
        client_callee = direction not in ("inbound", "internal")
        return (self(caller) if client_caller else caller), (self(callee) if client_callee else callee)


def numbers(ctx: Ctx) -> Numbers:
    actor = ctx.actor
    return Numbers(mask_policy(ctx.hub), str(actor.role), actor.department_id)
