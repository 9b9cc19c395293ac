"""What-if replay: stored inquiries through another rule set, beside what really happened."""

from __future__ import annotations

import io
from datetime import date, timedelta

from crm_core.intake import IntakeService
from crm_core.models import Inquiry, InquiryEvent
from crm_core.models.agent_states import AgentStateSpan
from crm_core.models.routing import AgentRoutingProfile, DutyRota
from routing.cli import add_parser, cmd_simulate, print_report, replay
from routing.rules import compile_rules
from tests.routing.dbworld import WEDNESDAY_10, FakeClock, open_inquiry, seed, service, set_rules


async def test_round_robin_instead_of_one_agent_spreads_the_same_inquiries(db, bus):
    agency = await seed(db, {"a1": ("sales", "available"), "a2": ("sales", "available"),
                             "a3": ("sales", "available")})
    a1 = agency.users["a1"]
    await set_rules(db, [{"id": "only-a1", "priority": 1, "target": {"agents": [a1]}, "owner_first": False}])
    clock = FakeClock(WEDNESDAY_10)
    svc = service(db, bus, clock)
    await svc.start()
    await svc.caught_up()
    intake = IntakeService(db.sessions, bus)
    for _ in range(6):
        await open_inquiry(intake, received_at=clock())
        clock.advance(minutes=5)
    proposed = compile_rules({"rules": [{"id": "rr", "priority": 1, "target": {"departments": [agency.sales]},
                                         "strategy": "round_robin", "owner_first": False}]})
    report = await replay(db.sessions, proposed, date(2025, 3, 5), date(2025, 3, 5))
    assert report.inquiries == 6
    assert report.real == {a1: 6}
    assert report.simulated == {a1: 2, agency.users["a2"]: 2, agency.users["a3"]: 2}
    assert report.changed == 4 and report.peak[a1] == 2
    out = io.StringIO()
    print_report(report, out)
    text = out.getvalue()
    assert "inquiries replayed: 6; assignment changed for 4" in text
    assert [line.split() for line in text.splitlines() if line.startswith("A1 ")] == [["A1", "6", "2", "-4", "2", "0"]]
    assert "no state logged yet at the time, counted as available: A1, A2, A3" in text
    nothing = await replay(db.sessions, proposed, date(2025, 3, 6), date(2025, 3, 7))
    assert nothing.inquiries == 0


def test_a_bad_rules_file_is_refused_naming_the_rule_and_field(tmp_path, capsys):
    import argparse

    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "x"\npriority = 1\ntarget = { teams = [1] }\nwhen = { pricemax = 5 }\n',
                    encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["simulate", "--rules", str(path), "--from", "2025-03-01", "--to", "2025-03-31"])
    assert cmd_simulate(None, args) == 1
    assert 'rules[0] "x" field when.pricemax: unknown field' in capsys.readouterr().err
    args = parser.parse_args(["simulate", "--rules", str(tmp_path / "missing.toml"), "--from", "2025-03-01",
                              "--to", "2025-03-31"])
    assert cmd_simulate(None, args) == 1
    assert "cannot read" in capsys.readouterr().err


async def test_the_replay_takes_each_agent_as_they_really_were_at_each_inquiry_and_their_rota(db, bus):
    """a1's rota ends at 10:12; a2 is offline until 10:12; a3 is on a lunch break 10:00–10:22. Six forms,
    one every five minutes from 10:00, least loaded: a1 takes 10:00–10:10, a2 10:15 and 10:20, a3 10:25."""
    agency = await seed(db, {"a1": ("sales", "available"), "a2": ("sales", "available"),
                             "a3": ("sales", "available")})
    a1, a2, a3 = (agency.users[k] for k in ("a1", "a2", "a3"))
    at = WEDNESDAY_10
    async with db.sessions() as s, s.begin():
        s.add(DutyRota(id="morning", name="Утро", weekly={"wed": [["08:00", "10:12"]]}, exceptions={}))
        await s.flush()
        s.add(AgentRoutingProfile(user_id=a1, duty_schedule="morning", capacity={}, languages=["ru"]))
        s.add_all([
            AgentStateSpan(user_id=a1, status="available", started_at=at - timedelta(hours=2)),
            AgentStateSpan(user_id=a2, status="offline", started_at=at - timedelta(days=1),
                           ended_at=at + timedelta(minutes=12)),
            AgentStateSpan(user_id=a2, status="available", started_at=at + timedelta(minutes=12)),
            AgentStateSpan(user_id=a3, status="available", started_at=at - timedelta(hours=1), ended_at=at),
            AgentStateSpan(user_id=a3, status="break", reason="lunch", started_at=at,
                           ended_at=at + timedelta(minutes=22)),
            AgentStateSpan(user_id=a3, status="available", started_at=at + timedelta(minutes=22)),
        ])
    intake = IntakeService(db.sessions, bus)
    ids = [await open_inquiry(intake, received_at=at + timedelta(minutes=5 * n)) for n in range(6)]
    async with db.sessions() as s, s.begin():
        (await s.get(Inquiry, ids[0])).owner_id = a1
        s.add(InquiryEvent(inquiry_id=ids[0], at=at + timedelta(hours=5), kind="sla", note="x", data={}))
    proposed = compile_rules({"rules": [{"id": "ll", "priority": 1, "target": {"departments": [agency.sales]},
                                         "strategy": "least_loaded", "owner_first": False}]})
    report = await replay(db.sessions, proposed, date(2025, 3, 5), date(2025, 3, 5))
    assert report.simulated == {a1: 3, a2: 2, a3: 1}
    assert report.refused_for_status == {"offline": 3, "break": 5}
    assert report.unlogged == set() and report.status_changes == 6
    out = io.StringIO()
    print_report(report, out)
    text = out.getvalue()
    assert [line.split() for line in text.splitlines() if line.startswith("A1 ")] == [["A1", "1", "3", "+2", "3", "1"]]
    assert "agents in the state they were really in at each inquiry's time (6 logged changes replayed)" in text
    assert "passed over for their state (agent × inquiry): break: 5, offline: 3" in text
    assert "counted as available" not in text
