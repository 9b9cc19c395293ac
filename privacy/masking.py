"""Hidden phone numbers: one pure function masks a number, one decides who sees masked numbers.

``mask_phone("+79161234567")`` → ``"+7 916 ***-**-67"``: the country and operator code stay (the agent sees
which region calls), the subscriber's digits but the last two do not. The hub dials by the client's contact
id, so an agent with masked numbers still calls with one click.
"""

from __future__ import annotations

from dataclasses import dataclass

NEVER_MASKED = frozenset({"admin", "dpo"})


def mask_phone(value: str | None) -> str:
    """A phone number with its middle hidden; anything that is not a phone number is hidden whole."""
    if not value:
        return ""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) < 7:
        return "***"
    if value.startswith("+7") or (len(digits) == 11 and digits[0] in "78"):
        return f"+7 {digits[1:4]} ***-**-{digits[-2:]}"
    country = digits[:-10] if len(digits) > 10 else ""
    head = f"+{country} " if value.startswith("+") and country else ("+" if value.startswith("+") else "")
    return f"{head}{digits[-10:-7] if len(digits) >= 10 else digits[:2]} ***-**-{digits[-2:]}"


@dataclass(frozen=True, slots=True)
class MaskPolicy:
    roles: frozenset[str] = frozenset()
    departments: frozenset[int] = frozenset()

    def masks(self, role: str | None, department_id: int | None) -> bool:
        """True when this member of staff sees clients' numbers masked."""
        if role is None or str(role) in NEVER_MASKED:
            return False
        return str(role) in self.roles or (department_id is not None and department_id in self.departments)

    def shown(self, value: str | None, role: str | None, department_id: int | None) -> str:
        """The number as this member of staff may see it."""
        return mask_phone(value) if self.masks(role, department_id) else (value or "")

    @property
    def active(self) -> bool:
        return bool(self.roles or self.departments)


def policy_from(roles: tuple[str, ...] | list[str], departments: tuple[int, ...] | list[int]) -> MaskPolicy:
    return MaskPolicy(frozenset(str(r) for r in roles), frozenset(int(d) for d in departments))


PHONE_COLUMNS = frozenset({"caller", "callee", "number", "phone"})


def mask_rows(column_keys: list[str], rows: list[tuple]) -> list[tuple]:
    """A report's rows with the number columns masked (the report's figures untouched)."""
    hidden = [i for i, key in enumerate(column_keys) if key in PHONE_COLUMNS]
    if not hidden:
        return rows
    return [tuple(mask_phone(v) if i in hidden and isinstance(v, str) else v for i, v in enumerate(row))
            for row in rows]
