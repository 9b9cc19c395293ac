"""What the call card (the agent's cockpit) needs beyond the pop-up lane: the caller's details with the open
inquiries' next actions, the people and queues a call can be transferred to, and the properties linked to a
call while it is still going on.

A property is linked to a call (``agency.properties.link_call``, counted in the property's statistics) by the
call's row, and that row is written when the call ends. Linked during the call, the property waits here by
the call's Linkedid and is linked as soon as the call is stored (``PendingLinks.stored``, called by the
stored-calls lane, see ``telephony/wiring.py``). A link waits in this instance's memory only: a hub stopped
between the click and the end of the call forgets it (the agent can link it from the call log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.access import Actor, NotFound
from crm_core.caller_card import caller_details
from crm_core.models import User

log = logging.getLogger("hub.telephony")
MAX_PENDING = 5000  # calls with links waiting; the oldest are dropped past this


async def card_details(session: AsyncSession, client_id: int, zone: str = "Europe/Moscow") -> dict:
    """``caller_details`` (owner, last calls, open inquiries) with each open inquiry's next action; its time is
    the agency's wall-clock time (``zone``), as the inquiry page shows it."""
    found = await caller_details(session, client_id)
    for call in found.get("recent_calls", []):  # the agency's wall-clock time, as the rest of the card
        if call.get("at"):
            call["at"] = datetime.fromisoformat(call["at"]).astimezone(ZoneInfo(zone)).isoformat()
    for q in found.get("inquiries", []):
        if q.get("planned_at"):
            q["planned_at"] = datetime.fromisoformat(q["planned_at"]).astimezone(ZoneInfo(zone)).isoformat()
    return found


@dataclass(frozen=True, slots=True)
class Target:
    extension: str
    name: str
    status: str


async def transfer_targets(session: AsyncSession, own_user_id: int) -> list[Target]:
    """The colleagues a call can be sent on to: active, with a phone, not the agent themselves."""
    rows = await session.execute(
        select(User.extension, User.full_name, User.status)
        .where(User.extension.is_not(None), User.is_active.is_(True), User.id != own_user_id)
        .order_by(User.full_name))
    return [Target(ext, name, str(status or "")) for ext, name, status in rows if ext and ext.isdigit()]


class PendingLinks:
    """Properties linked to a call before its row exists, linked when the call is stored."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._waiting: dict[str, list[tuple[Actor, int]]] = {}

    def add(self, linkedid: str, actor: Actor, property_id: int) -> bool:
        """False when this property already waits for this call."""
        waiting = self._waiting.setdefault(linkedid, [])
        if any(p == property_id for _, p in waiting):
            return False
        waiting.append((actor, property_id))
        while len(self._waiting) > MAX_PENDING:
            dropped = next(iter(self._waiting))
            log.warning("property links for linkedid=%s dropped: too many calls waiting", dropped)
            del self._waiting[dropped]
        return True

    def waiting(self, linkedid: str) -> list[int]:
        return [p for _, p in self._waiting.get(linkedid, [])]

    async def stored(self, linkedid: str | None, call_id: int) -> None:
        """The call's row is written: link what waited for it (each within its linker's reach)."""
        from agency.properties import link_call

        for actor, property_id in self._waiting.pop(linkedid or "", []):
            try:
                await link_call(self.sessions, actor, call_id, property_id)
            except NotFound:
                log.info("property=%s not linked to call=%s: out of reach of user=%s", property_id, call_id,
                         actor.user_id)
            except Exception:  # noqa: BLE001 - a failed link must not hold the stored-calls lane
                log.exception("property=%s could not be linked to call=%s", property_id, call_id)


async def stored_call_id(session: AsyncSession, linkedid: str) -> int | None:
    """The row of a call that has ended and been stored (the caller's leg: the first one)."""
    from crm_core.models import Call

    return (await session.execute(select(Call.id).where(Call.linkedid == linkedid).order_by(Call.id).limit(1))
            ).scalar()
