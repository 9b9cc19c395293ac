"""Routing decisions per second and latency of ``decide``, against the naive every-rule-every-agent scan.

    python -m bench.routing [--quick]

The world: 15,000 agents in 150 departments of 5 teams, with realistic statuses (45% available, the rest
on calls, in wrap-up, on break or offline), loads up to their capacities, 12 duty rotas; 50 territory
polygons over Moscow (40 vertices each); 100 rules on territory, district, metro, source (DID, UTM, site),
property and deal type, price, language and skills with every strategy; a mix of inquiries from every
channel, 30% from clients with an owner. Between decisions the world moves: the chosen agent's load grows
and is closed again later, agents change status; the clock advances (duty is looked up per minute).

Two measured parts, both in this run:
- hub and peer side by side on the same inquiries from the same state (the answers must be identical);
- the hub alone on the long sequence: decisions/s (sum of ``decide`` times) and p50/p99 latency.
"""

from __future__ import annotations

import gc
import math
import random
import time
from collections import deque
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bench.common import emit, parse_args, percentile, rss_mb
from routing.agents import AgentDirectory
from routing.decide import decide
from routing.duty import DutySchedule
from routing.model import AgentSnapshot, InquiryFacts
from routing.naive import naive_decide
from routing.rules import RuleSet, compile_rules
from routing.strategies import RoutingState

ZONE = ZoneInfo("Europe/Moscow")
DEPARTMENTS, TEAMS_PER_DEPARTMENT, AGENTS_PER_TEAM = 150, 5, 20
SKILLS = ("elite", "commercial", "newbuild", "mortgage", "suburban", "legal", "rent-daily")
DISTRICTS = [f"Район {i}" for i in range(120)]
METRO = [f"Станция {i}" for i in range(200)]
PROPERTY = ("flat", "room", "house", "land", "commercial")
CHANNELS = ("call",) * 8 + ("webform",) * 5 + ("email",) * 3 + ("telegram",) * 3 + ("visit",)
STATUSES = ("available",) * 45 + ("on_call",) * 15 + ("wrap_up",) * 5 + ("break",) * 10 + ("offline",) * 25
BOX = (37.35, 55.57, 37.85, 55.92)  # lon/lat of Moscow inside the ring road, roughly


def team_id(department: int, k: int) -> int:
    return department * 10 + k


def make_agents(rnd: random.Random) -> list[AgentSnapshot]:
    agents = []
    n = 0
    for department in range(1, DEPARTMENTS + 1):
        for k in range(TEAMS_PER_DEPARTMENT):
            for _ in range(AGENTS_PER_TEAM):
                n += 1
                status = rnd.choice(STATUSES)
                capacity = {"call": 1, "email": 20, "telegram": 3, "webform": 15}
                load = {"call": int(status == "on_call"), "email": rnd.randint(0, 20),
                        "telegram": rnd.randint(0, 3), "webform": rnd.randint(0, 15), "visit": rnd.randint(0, 3)}
                languages = {"ru"} | ({"en"} if rnd.random() < 0.1 else set())
                languages |= {"zh"} if rnd.random() < 0.02 else set()
                agents.append(AgentSnapshot(
                    id=n, department_id=department, team_ids=frozenset({team_id(department, k)}),
                    skills=frozenset(rnd.sample(SKILLS, rnd.randint(0, 3))), languages=frozenset(languages),
                    status=status, load=load, capacity=capacity,
                    duty_schedule_id=f"rota-{rnd.randrange(12)}" if rnd.random() < 0.6 else None))
    return agents


def make_schedules() -> dict[str, DutySchedule]:
    shapes = [
        {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")},
        {d: [("10:00", "19:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat")},
        {d: [("08:00", "20:00")] for d in ("mon", "wed", "fri", "sun")},
        {d: [("08:00", "20:00")] for d in ("tue", "thu", "sat")},
        {d: [("20:00", "08:00")] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        {d: [("12:00", "21:00")] for d in ("mon", "tue", "wed", "thu", "fri")},
    ]
    return {f"rota-{i}": DutySchedule.rota(f"rota-{i}", shapes[i % len(shapes)]) for i in range(12)}


def make_polygon(rnd: random.Random, cx: float, cy: float, radius: float) -> dict:
    ring = []
    for k in range(40):
        angle = 2 * math.pi * k / 40
        r = radius * rnd.uniform(0.75, 1.0)
        ring.append([round(cx + r * math.cos(angle) * 1.8, 6), round(cy + r * math.sin(angle), 6)])
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def make_rules(rnd: random.Random) -> RuleSet:
    territories = []
    for i in range(50):  # a 10 x 5 grid of star-shaped territories that touch and overlap a little
        cx = BOX[0] + (i % 10 + 0.5) * (BOX[2] - BOX[0]) / 10
        cy = BOX[1] + (i // 10 + 0.5) * (BOX[3] - BOX[1]) / 5
        territories.append({"id": f"t{i}", "name": f"Территория {i}",
                            "geojson": make_polygon(rnd, cx, cy, 0.04)})
    strategies = ["least_loaded", "round_robin", "even_spread", "random", "team_claim"]
    rules: list[dict] = []

    def add(when: dict, target: dict, **extra: object) -> None:
        rules.append({"id": f"r{len(rules)}", "priority": 10 * (len(rules) + 1), "when": when, "target": target,
                      "strategy": extra.pop("strategy", rnd.choice(strategies)), **extra})

    def a_team() -> int:
        return team_id(rnd.randint(1, DEPARTMENTS), rnd.randrange(TEAMS_PER_DEPARTMENT))

    for i in range(10):
        add({"dids": [f"+7495{1000000 + i:07d}"]}, {"teams": [a_team()]}, strategy="round_robin")
    for i in range(5):
        add({"utm_sources": [f"partner{i}"], "channels": ["webform", "email"]}, {"teams": [a_team()]})
    for i in range(5):
        add({"sites": [f"novostroyki{i}.ru"]}, {"teams": [a_team(), a_team()]})
    add({"languages": ["en"]}, {"teams": [a_team(), a_team()], "require_skills": []}, strategy="least_loaded")
    add({"languages": ["zh"]}, {"teams": [a_team()]}, strategy="least_loaded")
    add({"skills": ["commercial"], "price_min": 100_000_000}, {"skills": ["commercial", "elite", "legal"]},
        strategy="least_loaded")
    for i in range(50):
        add({"territories": [f"t{i}"], "deal_types": [rnd.choice(["sale", "rent"])]},
            {"teams": [a_team()]}, on_no_agent=rnd.choice(["next_rule", "next_rule", "department_pool"]))
    for i in range(20):  # a quarter of these go to a whole department (100 agents), the rest to two teams
        target = {"departments": [rnd.randint(1, DEPARTMENTS)]} if i % 4 == 0 else {"teams": [a_team(), a_team()]}
        add({"districts": rnd.sample(DISTRICTS, 3), "metro": rnd.sample(METRO, 4),
             "property_types": rnd.sample(PROPERTY, 2)}, target)
    low = 5_000_000
    for _ in range(7):
        add({"deal_types": ["sale"], "price_min": low, "price_max": low * 3, "channels": ["call", "webform"],
             "property_types": ["house", "land"]}, {"teams": [a_team()]})
        low *= 2
    assert len(rules) == 100, len(rules)
    return compile_rules({"territories": territories, "rules": rules,
                          "default": {"target": {"inquiry_department": True}, "strategy": "least_loaded"}})


def make_inquiries(rnd: random.Random, n: int, start: datetime) -> list[InquiryFacts]:
    out = []
    for i in range(n):
        channel = rnd.choice(CHANNELS)
        located = rnd.random() < 0.7
        out.append(InquiryFacts(
            id=i, channel=channel, created_at=start,
            did=f"+7495{1000000 + rnd.randrange(40):07d}" if channel == "call" else None,
            utm_source=f"partner{rnd.randrange(12)}" if channel in ("webform", "email") and rnd.random() < 0.5
            else None,
            site=f"novostroyki{rnd.randrange(10)}.ru" if channel == "webform" and rnd.random() < 0.3 else None,
            district=rnd.choice(DISTRICTS) if rnd.random() < 0.5 else None,
            metro=rnd.choice(METRO) if rnd.random() < 0.4 else None,
            lat=rnd.uniform(BOX[1], BOX[3]) if located else None, lon=rnd.uniform(BOX[0], BOX[2]) if located else None,
            property_type=rnd.choice(PROPERTY), deal_type=rnd.choice(["sale", "rent"]),
            price=rnd.choice([None, rnd.uniform(2e6, 3e8)]),
            language="en" if rnd.random() < 0.03 else ("zh" if rnd.random() < 0.01 else "ru"),
            required_skills=frozenset(rnd.sample(SKILLS, 1)) if rnd.random() < 0.1 else frozenset(),
            client_owner_id=rnd.randint(1, 15_000) if rnd.random() < 0.3 else None,
            department_id=rnd.randint(1, DEPARTMENTS),
        ))
    return out


class World:
    """Between decisions the world moves: the chosen agent's load grows and is closed again some 3,000
    decisions later (a steady state), and one agent in five decisions changes status."""

    def __init__(self, directory: AgentDirectory, seed: int) -> None:
        self.directory = directory
        self.rnd = random.Random(seed)
        self.open: deque[tuple[int, str]] = deque()

    def moves(self, inquiry: InquiryFacts, agent_id: int | None) -> None:
        if agent_id is not None:
            self.directory.add_load(agent_id, inquiry.channel, +1)
            self.open.append((agent_id, inquiry.channel))
        if len(self.open) > 3_000:
            self.directory.add_load(*self.open.popleft(), -1)
        if self.rnd.random() < 0.2:
            someone = self.directory.by_id[self.rnd.randint(1, len(self.directory))]
            self.directory.update(replace(someone, status=self.rnd.choice(STATUSES)))


def build(seed: int = 42) -> tuple[AgentDirectory, RuleSet]:
    rnd = random.Random(seed)
    return AgentDirectory(make_agents(rnd), make_schedules()), make_rules(rnd)


def side_by_side(inquiries: list[InquiryFacts], start: datetime) -> tuple[float, float, int]:
    """Hub and naive scan on the same inquiries from the same state; returns (hub s, naive s, answers)."""
    directory, rules = build()
    state = RoutingState(seed=1)
    world = World(directory, 3)
    hub_s = naive_s = 0.0
    for k, inquiry in enumerate(inquiries):
        now = start + timedelta(seconds=3 * k)
        t0 = time.perf_counter()
        mine = decide(inquiry, directory, rules, now, state)
        t1 = time.perf_counter()
        theirs = naive_decide(inquiry, directory, rules, now, state)
        t2 = time.perf_counter()
        hub_s += t1 - t0
        naive_s += t2 - t1
        if mine.to_dict() != theirs.to_dict():
            raise SystemExit(f"decide and the naive scan disagree on inquiry {inquiry.id}:\n"
                             f"{mine.to_dict()}\n{theirs.to_dict()}")
        state.apply(mine)
        world.moves(inquiry, mine.agent_id)
    return hub_s, naive_s, len(inquiries)


def hub_alone(inquiries: list[InquiryFacts], start: datetime) -> tuple[list[float], dict[str, int], float]:
    directory, rules = build()
    # the world and the inquiries live for the whole run: keep the cyclic GC from walking them again and
    # again (a long-running hub does the same after start-up); new objects are still collected
    gc.collect()
    gc.freeze()
    state = RoutingState(seed=1)
    world = World(directory, 3)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    explain_s = 0.0
    for k, inquiry in enumerate(inquiries):
        now = start + timedelta(milliseconds=50 * k)
        t0 = time.perf_counter()
        decision = decide(inquiry, directory, rules, now, state)
        t1 = time.perf_counter()
        latencies.append(t1 - t0)
        if k % 10 == 0:
            t2 = time.perf_counter()
            decision.to_dict()
            explain_s += (time.perf_counter() - t2) * 10
        outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1
        state.apply(decision)
        world.moves(inquiry, decision.agent_id)
    return latencies, outcomes, explain_s / len(inquiries)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n, peer_n = (20_000, 150) if args.quick else (200_000, 1_000)
    start = datetime(2025, 3, 5, 9, 30, tzinfo=ZONE)  # a Wednesday morning
    t = time.perf_counter()
    directory, rules = build()
    build_s = time.perf_counter() - t
    inquiries = make_inquiries(random.Random(5), n, start)
    hub_side_s, peer_s, compared = side_by_side(inquiries[:peer_n], start)
    latencies, outcomes, explain_s = hub_alone(inquiries, start)
    total = sum(latencies)
    ms = [x * 1000 for x in latencies]
    result = {
        "bench": "routing", "unit": "decisions/s", "value": round(len(latencies) / total, 1),
        "peer": "naive every-rule-every-agent scan", "peer_value": round(compared / peer_s, 1),
        "p50_ms": round(percentile(ms, 50), 4), "p99_ms": round(percentile(ms, 99), 4),
        "max_ms": round(max(ms), 3), "side_by_side_hub_per_s": round(compared / hub_side_s, 1),
        "compared_identical": compared, "decisions": len(latencies), "agents": len(directory),
        "rules": len(rules.rules) - 1, "territories": len(rules.polygons), "outcomes": outcomes,
        "to_dict_ms": round(explain_s * 1000, 4), "build_s": round(build_s, 2), "rss_mb": round(rss_mb(), 1),
    }
    print(f"{len(latencies)} decisions over {len(directory):,} agents, {result['rules']} rules, "
          f"{result['territories']} territories: {result['value']:,}/s, p50 {result['p50_ms']} ms, "
          f"p99 {result['p99_ms']} ms; naive scan {result['peer_value']:,}/s on {compared} identical decisions "
          f"(hub {result['side_by_side_hub_per_s']:,}/s on the same); outcomes {outcomes}")
    emit(result)


if __name__ == "__main__":
    main()
