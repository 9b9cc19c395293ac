"""The demo agency's workspace around its records: routing rules and a duty rota, a call script and a QC
checklist, deals at several funnel stages, an owner lead on the cold-call list, and a stored call linked to a
property. Written through ``crm_core.models`` in the row shapes the capabilities write (``routing.queries``
``save_rule_data``, ``workflow``, ``agency``); each part is looked up first, so a second load adds nothing, and
an agency that already has rules, a script or a checklist of its own keeps them untouched.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.demo_data import (
    CALL,
    CHECKLIST_ITEMS,
    CHECKLIST_NAME,
    DEALS,
    FUNNEL,
    OWNER_LEAD,
    RENT,
    ROTA,
    ROTA_LOGIN,
    RULES,
    SALES,
    SCRIPT_NAME,
    SCRIPT_QUEUES,
    SCRIPT_STEPS,
    TERRITORIES,
)
from crm_core.models import (
    Call,
    Channel,
    Client,
    Contact,
    ContactKind,
    Inquiry,
    Property,
    Task,
    TimelineEntry,
    User,
    utcnow,
)
from crm_core.models.agency import Deal, FunnelStage, OwnerLead, PropertyLink
from crm_core.models.routing import AgentRoutingProfile, DutyRota, RoutingKV, RoutingRule, RoutingTerritory
from crm_core.models.workflow import CallScript, QcChecklist

DEFAULT_LIST = 0  # agency.deal_directories.DEFAULT_LIST: the funnel every department uses until it has its own


async def load_extras(sessions: async_sessionmaker[AsyncSession], users: dict[str, User],
                      departments: dict[str, int]) -> int:
    """Add what is missing; the number of records added."""
    added = await _rules(sessions, departments)
    added += await _rota(sessions, users)
    added += await _workflow(sessions)
    added += await _deals(sessions)
    added += await _owner_lead(sessions, departments)
    added += await _call(sessions, users)
    return added


async def _inquiry_ids(s: AsyncSession, keys: list[str]) -> dict[str, int]:
    rows = await s.execute(select(Inquiry.external_id, Inquiry.id).where(
        Inquiry.external_id.in_([f"demo-{k}" for k in keys])))
    return {external.removeprefix("demo-"): iid for external, iid in rows.all()}


async def _rules(sessions: async_sessionmaker[AsyncSession], departments: dict[str, int]) -> int:
    """The rule set as ``save_rule_data`` stores it: territories, rules, the default rule, a new version."""
    async with sessions() as s, s.begin():
        if (await s.execute(select(RoutingRule.id).limit(1))).first() or \
                (await s.execute(select(RoutingTerritory.id).limit(1))).first():
            return 0
        now = utcnow()
        for key, name, geojson in TERRITORIES:
            s.add(RoutingTerritory(territory_key=key, name=name, geojson=geojson))
        for key, priority, name, when, dept, strategy in RULES:
            target = {"departments": [departments[dept]]} if dept else {"inquiry_department": True}
            s.add(RoutingRule(rule_key=key, priority=priority, enabled=True, updated_at=now,
                              body={"name": name, "when": when, "target": target, "strategy": strategy}))
        version = await s.get(RoutingKV, "rules_version")  # the counter tells running hubs the rules changed
        stored: dict[str, dict] = {
            "default_rule": {"target": {"inquiry_department": True}, "strategy": "least_loaded"},
            "rules_version": {"n": (int(version.value.get("n", 0)) if version is not None else 0) + 1},
        }
        for key, value in stored.items():
            row = await s.get(RoutingKV, key)
            if row is None:
                s.add(RoutingKV(key=key, value=value, updated_at=now))
            else:
                row.value, row.updated_at = value, now
        return len(TERRITORIES) + len(RULES)


async def _rota(sessions: async_sessionmaker[AsyncSession], users: dict[str, User]) -> int:
    rota_id, name, weekly = ROTA
    async with sessions() as s, s.begin():
        if await s.get(DutyRota, rota_id) is not None:
            return 0
        s.add(DutyRota(id=rota_id, name=name, weekly=weekly, exceptions={}, holidays_off=True))
        await s.flush()
        user_id = users[ROTA_LOGIN].id
        profile = await s.get(AgentRoutingProfile, user_id)
        if profile is None:
            s.add(AgentRoutingProfile(user_id=user_id, duty_schedule=rota_id))
        elif profile.duty_schedule is None:
            profile.duty_schedule = rota_id
        return 1


async def _workflow(sessions: async_sessionmaker[AsyncSession]) -> int:
    added = 0
    async with sessions() as s, s.begin():
        if not (await s.execute(select(CallScript.id).where(CallScript.name == SCRIPT_NAME))).first():
            s.add(CallScript(name=SCRIPT_NAME, queues=list(SCRIPT_QUEUES), channels=[Channel.CALL.value],
                             steps=[dict(step) for step in SCRIPT_STEPS], active=True))
            added += 1
        if not (await s.execute(select(QcChecklist.id).where(QcChecklist.name == CHECKLIST_NAME))).first():
            items = [{"key": str(n), "text": text, "weight": weight}
                     for n, (text, weight) in enumerate(CHECKLIST_ITEMS, 1)]
            s.add(QcChecklist(name=CHECKLIST_NAME, items=items, active=True))
            added += 1
    return added


async def _deals(sessions: async_sessionmaker[AsyncSession]) -> int:
    added = 0
    async with sessions() as s, s.begin():
        stages = {st.name: st for st in (await s.execute(
            select(FunnelStage).where(FunnelStage.list_key == DEFAULT_LIST))).scalars()}
        if not stages:
            for pos, (name, positive) in enumerate(FUNNEL):
                stages[name] = FunnelStage(list_key=DEFAULT_LIST, name=name, position=pos, positive=positive)
                s.add(stages[name])
                added += 1
            await s.flush()
        inquiries = await _inquiry_ids(s, [d[0] for d in DEALS])
        have = set((await s.execute(select(Deal.inquiry_id).where(Deal.inquiry_id.in_(inquiries.values())))).scalars())
        now = utcnow()
        for key, stage_name, status in DEALS:
            inquiry = await s.get(Inquiry, inquiries[key]) if key in inquiries else None
            stage = stages.get(stage_name)
            if inquiry is None or inquiry.id in have or stage is None:
                continue
            reached = now - timedelta(hours=2) if stage.positive else None
            s.add(Deal(inquiry_id=inquiry.id, client_id=inquiry.client_id, department_id=inquiry.department_id,
                       agent_id=inquiry.owner_id, stage_id=stage.id, property_id=inquiry.property_id, status=status,
                       reached_positive_at=reached, closed_at=inquiry.closed_at if status != "open" else None))
            added += 1
    return added


async def _owner_lead(sessions: async_sessionmaker[AsyncSession], departments: dict[str, int]) -> int:
    """An owner from a bulk source on the cold-call list, as ``agency.owner_lead_import`` stores one."""
    address, phone, owner_name, source = OWNER_LEAD
    key = " ".join(address.lower().replace("ё", "е").replace(",", " ").split())[:500]
    async with sessions() as s, s.begin():
        lead = select(OwnerLead.id).where(OwnerLead.address_key == key, OwnerLead.phone == phone)
        if (await s.execute(lead)).first():
            return 0
        prop = (await s.execute(select(Property).where(Property.address == address))).scalar_one_or_none()
        if prop is None:
            return 0
        added = 1
        client_id = (await s.execute(select(Contact.client_id).where(
            Contact.kind == ContactKind.PHONE, Contact.value == phone))).scalar()
        now = utcnow()
        if client_id is None:
            client = Client(name=owner_name, created_at=now)
            s.add(client)
            await s.flush()
            client_id = client.id
            s.add(Contact(client_id=client_id, kind=ContactKind.PHONE, value=phone, label="собственник"))
            added += 1
        if prop.owner_client_id is None:
            prop.owner_client_id = client_id
        department_id = departments[RENT if prop.deal_type == "rent" else SALES]
        task = Task(kind="cold_call", status="open", client_id=client_id, department_id=department_id, due_at=now,
                    attempts=0, phone=phone, note=address[:2000])
        s.add(task)
        await s.flush()
        s.add(OwnerLead(address_key=key, phone=phone, owner_name=owner_name, property_id=prop.id,
                        department_id=department_id, status="calling", source=source, task_id=task.id, attempts=0))
        s.add(TimelineEntry(client_id=client_id, at=now, kind="property_added", ref_id=prop.id, summary=address[:200]))
        return added + 1


async def _call(sessions: async_sessionmaker[AsyncSession], users: dict[str, User]) -> int:
    """The stored call of a demo inquiry, and its property linked to it (the call card's «Объект»)."""
    uniqueid, key, caller, caller_name, did, queue, login = CALL
    async with sessions() as s, s.begin():
        if (await s.execute(select(Call.id).where(Call.uniqueid == uniqueid))).first():
            return 0
        inquiry_id = (await _inquiry_ids(s, [key])).get(key)
        inquiry = await s.get(Inquiry, inquiry_id) if inquiry_id else None
        if inquiry is None:
            return 0
        agent = users[login]
        started = (inquiry.accepted_at or inquiry.created_at) - timedelta(minutes=18)
        call = Call(uniqueid=uniqueid, linkedid=uniqueid, direction="inbound", caller=caller, callee=agent.extension,
                    caller_name=caller_name, did=did, queue=queue, agent_id=agent.id, agents_rung=[agent.extension],
                    client_id=inquiry.client_id, inquiry_id=inquiry.id, started_at=started,
                    queued_at=started + timedelta(seconds=2), answered_at=started + timedelta(seconds=14),
                    ended_at=started + timedelta(seconds=170), wait_s=12.0, talk_s=156.0, outcome="answered")
        s.add(call)
        await s.flush()
        added = 1
        if inquiry.property_id is not None:
            s.add(PropertyLink(property_id=inquiry.property_id, inquiry_id=inquiry.id, call_id=call.id,
                               at=call.ended_at, linked_by=agent.id))
            added += 1
        return added

