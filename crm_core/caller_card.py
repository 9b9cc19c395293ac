"""What the pop-up shows about a known caller beyond the name: owner, last calls, open inquiries.

Three small indexed reads (calls by client, inquiries by client, the owner by id), done once per call.
A new number gets a client and an inquiry in one click: the same intake key the finished call will use,
so the call lands on that inquiry later and nothing is doubled.
"""

from __future__ import annotations

from sqlalchemy import BindParameter, Integer, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.intake import OPEN_STATUSES, IntakeRequest, IntakeResult, IntakeService
from crm_core.models import Call, Channel, Client, Inquiry, InquiryStatus, User, utcnow

RECENT_CALLS = 5
OPEN_INQUIRIES = 5


# Built once: a pop-up's details are read for every call, and building the statements cost as much as running
# them (the compiled form is cached by SQLAlchemy either way).
_CLIENT: BindParameter[int] = bindparam("client_id", type_=Integer)
_OWNER = select(User.full_name).join(Client, Client.owner_id == User.id).where(Client.id == _CLIENT)
_CALLS = (select(Call.started_at, Call.direction, Call.outcome).where(Call.client_id == _CLIENT)
          .order_by(Call.started_at.desc()).limit(RECENT_CALLS))
_INQUIRIES = (select(Inquiry.id, Inquiry.subject, Inquiry.status, Inquiry.planned_action, Inquiry.planned_at)
              .where(Inquiry.client_id == _CLIENT, Inquiry.status.in_(OPEN_STATUSES))
              .order_by(Inquiry.id.desc()).limit(OPEN_INQUIRIES))


async def caller_details(session: AsyncSession, client_id: int) -> dict:
    """Owner, last calls, open inquiries (each with its next action and when, as stored: UTC)."""
    key = {"client_id": client_id}
    owner = (await session.execute(_OWNER, key)).scalar()
    calls = (await session.execute(_CALLS, key)).all()
    inquiries = (await session.execute(_INQUIRIES, key)).all()
    return {
        "owner": owner,
        "recent_calls": [{"at": c.started_at.isoformat() if c.started_at else None, "direction": c.direction,
                          "outcome": c.outcome} for c in calls],
        "inquiries": [{"id": i.id, "subject": i.subject or "", "status": i.status,
                       "planned_action": i.planned_action,
                       "planned_at": i.planned_at.isoformat() if i.planned_at else None} for i in inquiries],
    }


async def create_caller(
    sessions: async_sessionmaker[AsyncSession], intake: IntakeService, *, linkedid: str, phone: str,
    name: str | None, did: str | None, agent_id: int,
) -> IntakeResult:
    """The agent on the call makes the new number a client: theirs, with this call's inquiry in their hands."""
    result = await intake.accept(IntakeRequest(
        channel=Channel.CALL, external_id=linkedid, phone=phone, name=name, source=did, did=did,
        subject="Входящий звонок",
    ))
    async with sessions() as s, s.begin():
        client = await s.get(Client, result.client_id)
        if client is not None and client.owner_id is None:
            client.owner_id = agent_id
        inquiry = await s.get(Inquiry, result.inquiry_id)
        if inquiry is not None and inquiry.owner_id is None:
            inquiry.owner_id = agent_id
            inquiry.status = InquiryStatus.IN_WORK
            inquiry.accepted_at = utcnow()
    return result
