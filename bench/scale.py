"""Several hub instances on one PostgreSQL: pop-up latency and web-form intake with 1, 2 and 3 instances,
and the failover time of the PBX session over 10 kills.

    python -m bench.scale [--quick]

Every instance is a real ``main.py run`` process on its own loopback port, all on one fresh PostgreSQL
database (the default broker: LISTEN/NOTIFY); this process holds the fake PBX, the WebSocket clients and
the load generator. The lease settings are the defaults (5 s lease, 1 s heartbeat).

- Pop-up latency: anna (extension 101) is logged in on every instance, one WebSocket each. The PBX sends
  the real answered.txt call (its own ids each time) at ``CALLS_PER_S``; the time from the PBX writing the
  call's first frame to the "ringing" pop-up arriving on each socket is measured on one wall clock. With 2
  and 3 instances most sockets sit on an instance that does not hold the PBX session: their pop-up
  crossed the broker. Reported: p50 and p99 in ms over all sockets.
- Intake: web forms posted round-robin to the instances (``CONCURRENCY`` at once) for ``FORM_S``;
  forms/s answered 2xx, and the ratio to one instance. On 2 cores shared with PostgreSQL more instances
  do not make more CPU: the ratio shows the cost of the coordination, not a speed-up.
- Failover (3 instances): 10 times, a call starts and is answered, then the instance holding the PBX
  session is SIGKILLed; the time until another instance's PBX session is connected (``/healthz``) is the
  failover time; the call then hangs up, and it must be stored exactly once, as answered (``lost``,
  ``doubled`` and ``wrong_outcome`` count the misses). The killed instance is started again before the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bench.common import emit, parse_args, percentile
from bootstrap import build_hub
from connectors.asterisk.fake_pbx import LIST_EVENTS, FakePbx, parse_frame, shift_ids
from connectors.asterisk.traces import read_trace
from crm_core.models import Call
from tests.cluster.harness import Cluster, elapsed_until, fresh_database, pbx_env
from tests.web.conftest import Browser, seed_agency, settings_for

CALLS_PER_S = 10
CONCURRENCY = 16
KILLS = 10


def call_events() -> tuple[list[bytes], list[bytes]]:
    """answered.txt's events: up to the bridge (the call is up), and the rest (the hang-up)."""
    head, tail = [], []
    for t, direction, data in read_trace("answered.txt"):
        if direction != "<<<" or not data.startswith(b"Event:"):
            continue
        if parse_frame(data).get("Event") in LIST_EVENTS and b"\r\nActionID:" in data:
            continue
        (head if t < 2.0 else tail).append(data)
    return head, tail


class Calls:
    def __init__(self, pbx: FakePbx) -> None:
        self.pbx = pbx
        self.head, self.tail = call_events()
        self.n = 0

    def linkedid(self, n: int) -> str:
        first = next(e for e in self.head if b"\r\nLinkedid: " in e)
        return parse_frame(shift_ids(first, n * 100_000))["Linkedid"]

    def _send(self, events: list[bytes], n: int) -> None:
        data = [shift_ids(e, n * 100_000) for e in events]
        for frame in data:
            self.pbx._track(parse_frame(frame))  # noqa: SLF001 - what CoreShowChannels reports to a new leader
        self.pbx.broadcast(b"".join(data))

    def start(self) -> tuple[str, float]:
        self.n += 1
        sent = time.time()
        self._send(self.head, self.n)
        return self.linkedid(self.n), sent

    def end(self, n: int | None = None) -> None:
        self._send(self.tail, n or self.n)


async def anna_sockets(cluster: Cluster, http_sessions: list) -> list[aiohttp.ClientWebSocketResponse]:
    sockets = []
    for inst in cluster.instances:
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        http_sessions.append(http)
        resp, _ = await Browser(inst.base, http).login("anna")
        assert resp.status == 303
        ws = await http.ws_connect(inst.base.replace("http", "ws") + "/ws", headers={"Origin": inst.base})
        await ws.receive_json(timeout=5)
        sockets.append(ws)
    return sockets


async def popup_latency(cluster: Cluster, calls: Calls, seconds: float) -> list[float]:
    http_sessions: list = []
    sockets = await anna_sockets(cluster, http_sessions)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []

    async def read(ws: aiohttp.ClientWebSocketResponse) -> None:
        seen = set()
        async for msg in ws:
            frame = json.loads(msg.data)
            cid = frame.get("call_id")
            if frame.get("type") == "popup" and cid in sent_at and cid not in seen:
                seen.add(cid)
                latencies.append(time.time() - sent_at[cid])

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    await asyncio.sleep(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        cid, sent = calls.start()
        sent_at[cid] = sent
        calls.end()
        await asyncio.sleep(1 / CALLS_PER_S)
    await asyncio.sleep(2)
    for task in readers:
        task.cancel()
    for ws in sockets:
        await ws.close()
    for http in http_sessions:
        await http.close()
    expected = len(sent_at) * len(sockets)
    if len(latencies) < expected:
        print(f"  pop-ups received {len(latencies)} of {expected}")
    return latencies


async def intake_rate(cluster: Cluster, seconds: float, run: int) -> float:
    bases = [i.base for i in cluster.instances]
    done = 0
    deadline = time.monotonic() + seconds

    async def worker(w: int, http: aiohttp.ClientSession) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < deadline:
            n += 1
            key = f"scale-{run}-{w}-{n}"
            form = {"name": f"Клиент {key}", "phone": f"+7916{abs(hash(key)) % 10_000_000:07d}",
                    "message": "Хочу посмотреть квартиру", "idempotency_key": key}
            async with http.post(f"{bases[(w + n) % len(bases)]}/forms/bench", json=form) as resp:
                if resp.status < 300:
                    done += 1

    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(worker(w, http) for w in range(CONCURRENCY)))
    return done / (time.monotonic() - started)


async def pbx_connected(cluster: Cluster, among: list) -> bool:
    for inst in among:
        body = await inst.health(cluster.http)
        if body and body["leads"].get("asterisk") and body["connectors"].get("asterisk") == "connected":
            return True
    return False


async def failover(cluster: Cluster, calls: Calls, url: str) -> dict:
    times, lost, doubled, wrong = [], 0, 0, 0
    engine_hub = build_hub(settings_for(url, Path(tempfile.mkdtemp())))
    sessions = engine_hub.database.sessions
    for _ in range(KILLS):
        leader = await cluster.wait_leader("asterisk")
        await elapsed_until(lambda: pbx_connected(cluster, [leader]), 15)  # noqa: B023 - awaited here
        cid, _ = calls.start()
        n = calls.n
        await asyncio.sleep(0.5)  # the call is up and answered
        leader.signal(signal.SIGKILL)
        killed = time.monotonic()
        survivors = [i for i in cluster.instances if i is not leader]
        await elapsed_until(lambda: pbx_connected(cluster, survivors), 30, step_s=0.02)  # noqa: B023
        times.append(time.monotonic() - killed)
        calls.end(n)
        leader.proc.wait(5)
        leader.start()  # back as a standby for the next round
        await leader.wait_ready(cluster.http)
        with contextlib.suppress(TimeoutError):
            await elapsed_until(lambda: _stored(sessions, cid), 5)  # noqa: B023
        stored = await _stored(sessions, cid)
        lost += stored == 0
        doubled += stored > 1
        async with sessions() as s:
            outcomes = (await s.execute(select(Call.outcome).where(Call.linkedid == cid))).scalars().all()
        wrong += any(o != "answered" for o in outcomes)  # e.g. closed as lost_track instead of hung up
    await engine_hub.database.engine.dispose()
    return {"failover_s_max": round(max(times), 2), "failover_s_median": round(statistics.median(times), 2),
            "lost": lost, "doubled": doubled, "wrong_outcome": wrong, "kills": len(times)}


async def _stored(sessions, linkedid: str) -> int:  # noqa: ANN001
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(Call).where(Call.linkedid == linkedid))).scalar_one()


async def main(quick: bool) -> None:
    popup_s, form_s = (3, 3) if quick else (8, 8)
    results: dict[int, dict] = {}
    failover_result: dict = {}
    for n in (1, 2, 3):
        tmp = Path(tempfile.mkdtemp(prefix=f"scale{n}-"))
        async with fresh_database() as url:
            seeder = build_hub(settings_for(url, tmp / "seed"))
            await seed_agency(seeder)
            await seeder.database.engine.dispose()
            secret = secrets.token_urlsafe(8)
            pbx = FakePbx(secret=secret)
            await pbx.start()
            extra = pbx_env(pbx.port, secret) | {"HUB_WEBFORMS__PER_IP_PER_MINUTE": "100000000",
                                                 "HUB_LOG__LEVEL": "WARNING"}
            try:
                async with Cluster(url, tmp, n, extra=extra) as cluster:
                    await cluster.wait_leader("asterisk")
                    await elapsed_until(lambda: pbx_connected(cluster, cluster.instances), 15)  # noqa: B023
                    calls = Calls(pbx)
                    lat = await popup_latency(cluster, calls, popup_s)
                    rate = await intake_rate(cluster, form_s, n)
                    results[n] = {"popup_p50_ms": round(percentile(lat, 50) * 1000, 2),
                                  "popup_p99_ms": round(percentile(lat, 99) * 1000, 2),
                                  "popups": len(lat), "forms_per_s": round(rate, 1)}
                    print(f"{n} instance(s): {results[n]}", flush=True)
                    if n == 3:
                        failover_result = await failover(cluster, calls, url)
                        print(f"failover over {KILLS} kills: {failover_result}", flush=True)
            finally:
                await pbx.stop()
    one = results[1]
    emit({
        "bench": "scale", "metric": "forms_per_s with 3 instances", "unit": "forms/s",
        "value": results[3]["forms_per_s"], "peer": "1 instance", "peer_value": one["forms_per_s"],
        "instances": {str(n): {**r, "forms_ratio_to_1": round(r["forms_per_s"] / one["forms_per_s"], 3),
                               "popup_p99_ratio_to_1": round(r["popup_p99_ms"] / one["popup_p99_ms"], 3)}
                      for n, r in results.items()},
        **failover_result, "failover_target_s": 10, "quick": quick,
    })


if __name__ == "__main__":
    args = parse_args(__doc__.splitlines()[0])
    asyncio.run(main(args.quick))
