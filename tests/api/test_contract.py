"""Contract: schemathesis sends generated requests to every operation of the document, with an administrator's
token and with an agent's, and checks that no answer is a server error or breaks the document (status, media
type, headers, body schema). Bounded: a few examples per operation and a limit on the CPU time it may use.

The hub runs on its own event loop in a thread (schemathesis calls over HTTP with ``requests``, blocking)."""

from __future__ import annotations

import asyncio
import threading
import time

import schemathesis  # the test extra: without it the suite fails here, it never skips the contract
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from api.registry import openapi
from tests.api.conftest import make_token
from tests.web.conftest import RunningHub, seed_agency, settings_for

EXAMPLES = {"positive": 3, "negative": 2}  # per operation and token
CPU_LIMIT_S = 60.0  # of this process (the hub and schemathesis), whatever else the machine runs; ~15 s used
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]
NEGATIVE_CHECKS = [*CHECKS, checks.negative_data_rejection]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


def modes(operation) -> tuple[GenerationMode, ...]:  # noqa: ANN001
    """Invalid requests only where there is something to get wrong (parameters or a body)."""
    described = openapi()["paths"][operation.path][operation.method.lower()]
    return MODES if described.get("parameters") or described.get("requestBody") else MODES[:1]


def plan(operations: list, tokens: dict[str, str]) -> list:  # noqa: ANN001
    """Valid requests for both tokens; invalid ones (rejected before any reach rule) with the admin's only."""
    return [(who, token, o, m) for who, token in tokens.items() for o in operations for m in modes(o)
            if m == GenerationMode.POSITIVE or who == "root"]


class HubThread:
    def __init__(self, tmp_path) -> None:  # noqa: ANN001
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.tmp_path = tmp_path

    def run(self, coro):  # noqa: ANN001, ANN201
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    async def start(self) -> tuple[str, dict[str, str]]:
        from aiohttp.test_utils import TestServer

        from bootstrap import build_hub
        from web.app import create_app

        url = f"sqlite+aiosqlite:///{self.tmp_path / 'hub.sqlite3'}"
        hub = build_hub(settings_for(url, self.tmp_path))
        self.server = TestServer(create_app(hub), host="127.0.0.1")
        await self.server.start_server()
        await hub.started.wait()
        rh = RunningHub(hub, self.server, await seed_agency(hub))
        tokens = {who: await make_token(rh, who, rate_per_minute=100000) for who in ("root", "anna")}
        return str(self.server.make_url("")).rstrip("/"), tokens

    def stop(self) -> None:
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def exercise(operation, mode: GenerationMode, base: str, token: str) -> int:  # noqa: ANN001
    """Send this operation's generated requests with the token; the number sent (a failure raises)."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES[mode.value], deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    def one(case) -> None:  # noqa: ANN001
        nonlocal sent
        sent += 1
        case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"},
                               checks=CHECKS if mode == GenerationMode.POSITIVE else NEGATIVE_CHECKS)

    one()
    return sent


def test_every_operation_holds_to_the_document_for_an_admin_and_an_agent(tmp_path):
    hub = HubThread(tmp_path)
    try:
        base, tokens = hub.run(hub.start())
        schema = schemathesis.openapi.from_dict(openapi())
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == sum(len(m) for m in openapi()["paths"].values())
        started, cpu, calls, failures, covered = time.monotonic(), time.process_time(), 0, [], set()
        for who, token, operation, mode in plan(operations, tokens):
            used = time.process_time() - cpu
            assert used < CPU_LIMIT_S, f"over {CPU_LIMIT_S}s of CPU at {operation.label}"
            try:
                calls += exercise(operation, mode, base, token)
                covered.add((who, operation.label))
            except Exception as exc:  # noqa: BLE001 - collected: every failing operation is reported
                failures.append(f"{who} {mode.value} {operation.label}: {str(exc)[:1500]}")
        assert failures == [], "\n\n".join(failures)
        assert len(covered) == 2 * len(operations)  # every operation, with both tokens
        print(f"schemathesis: {len(operations)} operations x 2 tokens, {calls} requests, "
              f"{time.monotonic() - started:.1f}s, {time.process_time() - cpu:.1f}s CPU")
    finally:
        hub.stop()
