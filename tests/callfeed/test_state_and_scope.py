"""The feed's pure parts (which department a call arrives at, which calls are cards), and who watches and
restores what: a manager-administrator serves a list of departments, on both databases."""

from __future__ import annotations

from sqlalchemy import select

from callfeed import queries
from callfeed.state import Where, cards, changed_departments, for_scope, is_waiting, members_of
from crm_core.access import actor_for
from crm_core.models import Department, Division, Role, User
from crm_core.models.callfeed import CallBin
from crm_core.models.staff import ServedDepartment
from telephony.model import Call
from tests.crm_core.test_access import SHARED_HASH


def call(linkedid: str, **kw: object) -> Call:
    return Call(linkedid=linkedid, uniqueid=linkedid, caller="+79161000001", started=100.0, **kw)


def test_a_call_arrives_at_the_configured_department_else_at_its_queue_members_or_ringing_agents():
    where = Where(queues={"vip": 7}, dids={"74950000009": 8},
                  members=members_of([{"Queue": "sales", "Interface": "Local/101@agents/n"},
                                      {"Queue": "sales", "StateInterface": "PJSIP/102"}]),
                  agents={"101": 1, "102": 1, "103": 2})
    assert where.departments(call("a", queue="vip", ringing=("103",))) == {7}, "the setting wins"
    assert where.departments(call("b", queue="sales")) == {1}, "no setting: the queue's members' department"
    assert where.departments(call("c", queue="other", ringing=("103",))) == {2}, "else whose phone rings"
    assert where.departments(call("d", did="74950000009")) == {8}, "still in the menu: the DID's department"
    assert where.departments(call("e", did="74950000001")) == frozenset(), "nobody's: no card"


def test_only_inbound_calls_nobody_answered_are_cards_longest_wait_first():
    where = Where(agents={"101": 1})
    live = [call("waits", ringing=("101",), queued=105.0), call("older", ringing=("101",), queued=101.0),
            call("answered", ringing=("101",), answered_by="101", answered=110.0),
            call("out", direction="outbound", ringing=("101",)),
            call("gone", ringing=("101",), abandoned=True), call("binned", ringing=("101",))]
    assert not is_waiting(live[2]) and not is_waiting(live[3]) and not is_waiting(live[4])
    now = cards(live, where, frozenset({"binned"}))
    assert [c.id for c in for_scope(now, frozenset({1}), 10)] == ["older", "waits"]
    assert for_scope(now, frozenset({2}), 10) == []
    assert changed_departments(now, {k: v for k, v in now.items() if k != "older"}) == {1}
    assert changed_departments(now, now) == frozenset()


async def test_a_manager_watches_and_restores_the_departments_they_serve_and_no_others(db):
    async with db.sessions() as s, s.begin():
        msk = Division(name="Москва")
        s.add(msk)
        await s.flush()
        sales, rent, north = (Department(name=n, division_id=msk.id) for n in ("Продажи", "Аренда", "Север"))
        s.add_all([sales, rent, north])
        await s.flush()
        ids = {}
        for login, role, dept in [("anna", Role.AGENT, sales), ("mgr", Role.DEPT_MANAGER, rent),
                                  ("head", Role.DEPT_HEAD, north)]:
            user = User(login=login, password_hash=SHARED_HASH, full_name=login, role=role, department_id=dept.id)
            s.add(user)
            await s.flush()
            ids[login] = user.id
        s.add(ServedDepartment(user_id=ids["mgr"], department_id=sales.id))
        s.add(ServedDepartment(user_id=ids["anna"], department_id=north.id))  # an agent serves nothing
    async with db.sessions() as s, s.begin():
        anna, mgr, head = [await actor_for(s, ids[x]) for x in ("anna", "mgr", "head")]
        assert queries.scope_of(anna) == {sales.id}
        assert queries.scope_of(mgr) == {rent.id, sales.id}
        assert queries.scope_of(head) == {north.id}
        assert (await queries.audience(s))[ids["mgr"]] == {rent.id, sales.id}
        assert (await queries.audience(s))[ids["anna"]] == {sales.id}
        row = await queries.put_in_bin(s, anna, linkedid="1.1", number="+79161000001", caller_name=None,
                                       queue="sales", department_id=sales.id, reason="wrong_number")
        bin_id = row.id
    async with db.sessions() as s, s.begin():
        assert await queries.restore(s, head, bin_id) is None, "another department's supervisor: not there"
        assert [r.number for r in await queries.bin_rows(s, head)] == []
        assert [r.reason for r in await queries.bin_rows(s, mgr)] == ["wrong_number"]
        assert (await queries.restore(s, mgr, bin_id)) is not None
    async with db.sessions() as s:
        restored = (await s.execute(select(CallBin))).scalar_one()
        assert restored.restored_by == ids["mgr"] and restored.restored_at is not None
        assert await queries.binned_among(s, ["1.1"]) == set()

