"""Indexes the reports need on the core tables (no tables of their own).

- inquiries by creation time (every inquiry report ranges over it) and by owner and time (KPI);
- calls by agent and time (KPI, an agent's own figures), and by the dialed number and time (finding the
  call back to a missed caller).
"""

from sqlalchemy import Index

from crm_core.models.telephony import Call
from crm_core.models.work import Inquiry

REPORT_INDEXES = (
    Index("ix_reports_inquiries_created_at", Inquiry.created_at),
    Index("ix_reports_inquiries_owner_created", Inquiry.owner_id, Inquiry.created_at),
    Index("ix_reports_calls_agent_started", Call.agent_id, Call.started_at),
    Index("ix_reports_calls_callee_started", Call.callee, Call.started_at),
)
