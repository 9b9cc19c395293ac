"""What every report counts and returns: the shared definitions and the result shape.

Definitions (one place each):
- received: inquiries created in the range;
- processed: taken in work (accepted, in work or closed) or answered (an outgoing message in its thread);
- positive: ``positive_result()`` — closed as done (an archived inquiry was refused or expired). The agency
  workflow plugs its funnel stages in with ``set_positive_result``.

Each report returns a ``Report``: its columns, its rows (already aggregated), totals and what the chart plots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, case, exists, func, or_, select

from crm_core.models import Inquiry, InquiryStatus, Message

MISSED_OUTCOMES = ("abandoned", "no_answer")


# --- the definitions ---------------------------------------------------------------------------------------

def _done_is_positive() -> ColumnElement[bool]:
    return Inquiry.status == InquiryStatus.DONE


_positive: list[Callable[[], ColumnElement[bool]]] = [_done_is_positive]


def positive_result() -> ColumnElement[bool]:
    """The one test of "closed with a positive result", as a WHERE clause on ``Inquiry``."""
    return _positive[0]()


def set_positive_result(test: Callable[[], ColumnElement[bool]] | None) -> None:
    """Plug in another positive-result test (e.g. a deal reached a positive funnel stage); None restores."""
    _positive[0] = test or _done_is_positive


def processed() -> ColumnElement[bool]:
    answered = exists(select(Message.id).where(Message.inquiry_id == Inquiry.id, Message.direction == "out"))
    return or_(Inquiry.accepted_at.is_not(None),
               Inquiry.status.in_((InquiryStatus.IN_WORK, InquiryStatus.DONE)), answered)


def flag(cond: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of the group meet ``cond`` (0 for none)."""
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


def seconds_between(dialect: str, later: ColumnElement, earlier: ColumnElement) -> ColumnElement[float]:
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


# --- the result shape --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Col:
    key: str
    kind: str = "text"  # text | int | pct | num | dt | sec | min | rub (roubles)


@dataclass
class Report:
    name: str
    columns: list[Col]
    rows: list[tuple]
    totals: tuple | None = None
    chart: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    truncated: bool = False


def share(part: int | float, whole: int | float) -> float | None:
    """``part / whole``, or None when there is no whole."""
    return None if not whole else part / whole
