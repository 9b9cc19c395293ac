"""Calls in the call bin (spam, wrong number; crm_core/models/callfeed.py) stay out of the reports.

A call is binned by its Linkedid; a supervisor taking it back out (``restored_at``) puts it back. The cold
list also leaves out a number while any call of it is in the bin: a spammer calling again is no prospect.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, select

from crm_core.models import Call
from crm_core.models.callfeed import CallBin


def not_binned() -> ColumnElement[bool]:
    """The stored call is not in the bin (matched on its Linkedid, which every stored call has)."""
    binned = select(CallBin.id).where(CallBin.restored_at.is_(None),
                                      CallBin.linkedid == Call.linkedid).correlate(Call)
    return ~exists(binned)


def number_not_binned() -> ColumnElement[bool]:
    """The caller's number has no call in the bin."""
    return ~exists(select(CallBin.id).where(CallBin.restored_at.is_(None), CallBin.number == Call.caller)
                   .correlate(Call))
