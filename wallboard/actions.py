"""Supervisors' actions from the wallboard: pause/unpause an agent, listen/whisper/barge, reassign an inquiry.

Each is checked against the agency's access rules (the target agent must be one of the supervisor's
staff, ``crm_core.access.staff_scope``; the inquiry one they may change, ``get_inquiry(write=True)``) and
written to the audit log with who and when before (or, for database changes, together with) its effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bus.events import InquiryAssigned, Push
from connectors.asterisk.errors import AmiError
from crm_core import audit
from crm_core.access import Actor, Forbidden, NotFound, get_inquiry, staff_scope
from crm_core.agent_states import BREAK_REASONS, set_status
from crm_core.models import AgentStatus, Inquiry, InquiryEvent, InquiryStatus, Pool, Role, User, utcnow
from crm_core.models.routing import TeamOffer
from wallboard.queries import ACT_ROLES, VIEW_ROLES
from wallboard.settings import WallboardSettings

log = logging.getLogger("hub.wallboard.actions")
SPY_MODES = ("listen", "whisper", "barge")


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    result: str  # a key of the interface texts: wallboard.result.<result>
    detail: str = ""


async def staff_member(session: AsyncSession, actor: Actor, user_id: int) -> User:
    """An agent of the supervisor's (out of reach is "not found", as everywhere)."""
    user = (await session.execute(select(User).where(User.id == user_id, User.is_active.is_(True),
                                                     staff_scope(actor, User.id)))).scalar_one_or_none()
    if user is None:
        raise NotFound("user")
    return user


def _require(actor: Actor, roles: tuple[Role, ...]) -> None:
    if actor.role not in roles:
        raise Forbidden("wallboard")


async def pause_agent(hub, actor: Actor, user_id: int, paused: bool, reason: str | None = None) -> Outcome:  # noqa: ANN001
    """Break (paused) or back to available, in the hub and on the PBX: as the agent's own status switch, one
    ``QueuePause`` when the change really changes the pause."""
    _require(actor, ACT_ROLES)
    sessions = hub.database.sessions
    status = AgentStatus.BREAK if paused else AgentStatus.AVAILABLE
    reason = (reason if reason in BREAK_REASONS else "other") if paused else None
    async with sessions() as s, s.begin():
        agent = await staff_member(s, actor, user_id)
        extension = agent.extension
        await audit.record(s, actor.user_id, "wallboard.pause" if paused else "wallboard.unpause",
                           f"user:{user_id}", {"reason": reason, "extension": extension})
    change = await set_status(sessions, hub.bus, user_id, status, reason=reason, source="supervisor")
    if change is None:
        return Outcome(True, "unchanged")
    if hub.telephony is not None and extension:
        was_paused = change.previous in (AgentStatus.BREAK, AgentStatus.OFFLINE)
        if paused != was_paused or paused:
            sent = await hub.telephony.pause(extension, paused, reason or status.value)
            if not sent.ok:
                return Outcome(False, "pbx_failed", sent.message)
    log.info("supervisor=%s %s agent=%s reason=%s", actor.user_id, "paused" if paused else "unpaused", user_id, reason)
    return Outcome(True, "paused" if paused else "unpaused")


async def spy(hub, settings: WallboardSettings, actor: Actor, user_id: int, mode: str) -> Outcome:  # noqa: ANN001
    """The supervisor's phone rings; answered, it runs ChanSpy on the agent's channel (listen, whisper or barge)."""
    if mode not in SPY_MODES:
        raise ValueError(mode)
    _require(actor, VIEW_ROLES if mode == "listen" else ACT_ROLES)
    if hub.telephony is None:
        return Outcome(False, "no_pbx")
    async with hub.database.sessions() as s, s.begin():
        agent = await staff_member(s, actor, user_id)
        me = await s.get(User, actor.user_id)
        if me is None or not me.extension:
            return Outcome(False, "no_extension")
        if not agent.extension:
            return Outcome(False, "agent_no_extension")
        options = {"listen": settings.listen_options, "whisper": settings.whisper_options,
                   "barge": settings.barge_options}[mode]
        fields = {
            "Action": "Originate", "Channel": settings.supervisor_device.format(extension=me.extension),
            "Application": "ChanSpy", "Data": f"{settings.spy_channel.format(extension=agent.extension)},{options}",
            "CallerID": f"{mode} {agent.extension} <{agent.extension}>", "Async": "true",
            "Timeout": str(settings.spy_timeout_s * 1000),
        }
        await audit.record(s, actor.user_id, f"wallboard.{mode}", f"user:{user_id}",
                           {"extension": agent.extension, "device": fields["Channel"], "options": options})
    try:
        await hub.telephony.client.send(fields, as_list=False)
    except AmiError as exc:
        log.warning("%s by supervisor=%s on agent=%s failed: %s", mode, actor.user_id, user_id, exc)
        return Outcome(False, "pbx_failed", str(exc))
    log.info("%s by supervisor=%s on agent=%s ext=%s via %s", mode, actor.user_id, user_id, agent.extension,
             fields["Channel"])
    return Outcome(True, mode)


async def reassign(hub, actor: Actor, inquiry_id: int, to_user_id: int) -> Outcome:  # noqa: ANN001
    """Give an open inquiry to another of the supervisor's agents (out of any pool or offer)."""
    _require(actor, ACT_ROLES)
    now = utcnow()
    async with hub.database.sessions() as s, s.begin():
        inquiry = await get_inquiry(s, actor, inquiry_id, write=True)
        target = await staff_member(s, actor, to_user_id)
        if inquiry.status in (InquiryStatus.DONE, InquiryStatus.ARCHIVED):
            return Outcome(False, "closed")
        if inquiry.owner_id == to_user_id:
            return Outcome(True, "unchanged")
        before = {"owner_id": inquiry.owner_id, "pool": str(inquiry.pool), "status": str(inquiry.status)}
        status = InquiryStatus.NEW if inquiry.status == InquiryStatus.OFFERED else inquiry.status
        won = await s.execute(
            update(Inquiry).where(Inquiry.id == inquiry_id, Inquiry.updated_at == inquiry.updated_at)
            .values(owner_id=to_user_id, pool=Pool.NONE, status=status, accepted_at=None, pool_entered_at=None,
                    department_id=target.department_id or inquiry.department_id, updated_at=now)
            .execution_options(synchronize_session=False))
        if won.rowcount != 1:
            return Outcome(False, "conflict")
        await s.execute(update(TeamOffer).where(TeamOffer.inquiry_id == inquiry_id, TeamOffer.state == "open")
                        .values(state="withdrawn", closed_at=now, note="reassigned by a supervisor"))
        s.add(InquiryEvent(inquiry_id=inquiry_id, at=now, actor_id=actor.user_id, kind="reassigned",
                           note=f"→ {target.full_name}", data={**before, "to": to_user_id}))
        await audit.record(s, actor.user_id, "wallboard.reassign", f"inquiry:{inquiry_id}",
                           {**before, "to": to_user_id}, at=now)
    await hub.bus.publish(InquiryAssigned(inquiry_id, to_user_id, str(Pool.NONE), actor.user_id))
    await hub.bus.publish(Push((to_user_id,), "routing.assigned", {"inquiry_id": inquiry_id}))
    log.info("supervisor=%s reassigned inquiry=%s %s → %s", actor.user_id, inquiry_id, before["owner_id"], to_user_id)
    return Outcome(True, "reassigned")
