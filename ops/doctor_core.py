"""One line per check of ``hub doctor``: what was found and, when it is not fine, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    todo: str = ""

    def line(self) -> str:
        tail = f" — {self.todo}" if self.todo and self.status != "ok" else ""
        return f"{self.status:<4}  {self.name}: {self.detail}{tail}"


def ok(name: str, detail: str) -> Check:
    return Check(name, "ok", detail)


def warn(name: str, detail: str, todo: str) -> Check:
    return Check(name, "warn", detail, todo)


def fail(name: str, detail: str, todo: str) -> Check:
    return Check(name, "FAIL", detail, todo)


def exit_status(checks: list[Check]) -> int:
    """1 when any check failed; warnings alone leave it 0."""
    return 1 if any(c.status == "FAIL" for c in checks) else 0
