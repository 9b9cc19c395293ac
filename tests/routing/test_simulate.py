"""What-if replay: stored inquiries through another rule set, beside what really happened."""

from __future__ import annotations

import io
from datetime import date

from crm_core.intake import IntakeService
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
    assert [line.split() for line in text.splitlines() if line.startswith("A1 ")] == [["A1", "6", "2", "-4", "2"]]
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
