"""Calls in the call bin (spam, wrong number; crm_core/models/callfeed.py) stay out of the reports.

A call is binned by its Linkedid; a supervisor taking it back out (``restored_at``) puts it back. The cold
list also leaves out a number while any call of it is in the bin: a spammer calling again is no prospect.

Written as ``NOT IN (uncorrelated subquery)``: the bin is small and read once per query (SQLite builds one
ephemeral index of it, PostgreSQL a hashed subplan); measured a little faster than a correlated NOT EXISTS
over 100,000 calls (bench.reports --quick). The NULL guards keep NOT IN's three-valued logic from dropping
rows without a Linkedid or a number.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from crm_core.models import Call
from crm_core.models.callfeed import CallBin


def not_binned() -> ColumnElement[bool]:
    """The stored call is not in the bin (matched on its Linkedid)."""
    return or_(Call.linkedid.is_(None), Call.linkedid.not_in(
        select(CallBin.linkedid).where(CallBin.restored_at.is_(None))))


def number_not_binned() -> ColumnElement[bool]:
    """The caller's number has no call in the bin."""
    return or_(Call.caller.is_(None), Call.caller.not_in(
        select(CallBin.number).where(CallBin.restored_at.is_(None), CallBin.number.is_not(None))))
