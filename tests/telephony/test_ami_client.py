"""The hardened AMI session against the fake PBX on a loopback socket: faults found, nothing re-sent."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from connectors.asterisk.client import AUTH_FAILED, CONNECTED, AmiClient, backoff_delay
from connectors.asterisk.errors import AmiActionRefused, AmiLinkLost, UnsafeHeaderValue
from connectors.asterisk.events import AmiEvent
from connectors.asterisk.fake_pbx import BANNER, FakePbx, encode_frame
from connectors.asterisk.settings import AsteriskSettings

FAST = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "ping_interval_s": 0.2, "ping_timeout_s": 0.3}


def settings(port: int, **over: object) -> AsteriskSettings:
    return AsteriskSettings(enabled=True, port=port, secret="hubsecret", **{**FAST, **over})


async def until(predicate, timeout: float = 5.0) -> None:  # noqa: ANN001, ASYNC109
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling a plain condition in a test
            await asyncio.sleep(0.01)


def login_accepted(login: bytes) -> bytes:
    action_id = [ln.split(b": ")[1] for ln in login.split(b"\r\n") if ln.startswith(b"ActionID")][0]
    return encode_frame({"Response": "Success", "ActionID": action_id.decode(), "Message": "Authentication accepted"})


class Recorder:
    def __init__(self) -> None:
        self.events: list[AmiEvent] = []
        self.ups = 0

    def on_event(self, event: AmiEvent) -> None:
        self.events.append(event)

    async def on_up(self) -> None:
        self.ups += 1

    def names(self, header: str) -> list[str]:
        return [e.get(header) for e in self.events if e.get(header)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 64])
async def test_cyrillic_caller_names_survive_frames_cut_at_any_byte(chunk: int):
    async with FakePbx("answered.txt", secret="hubsecret", speed=100.0, chunk_size=chunk) as pbx:
        rec = Recorder()
        client = AmiClient(settings(pbx.port), rec.on_event, rec.on_up)
        await client.start()
        try:
            await asyncio.wait_for(pbx.replay_done.wait(), 10)
            await until(lambda: any(e.name == "Hangup" for e in rec.events))
        finally:
            await client.stop()
    assert "Иван Петров" in rec.names("CallerIDName")
    assert all("\ufffd" not in name for name in rec.names("CallerIDName"))
    assert client.fallback_decoded == 0


async def test_a_cp1251_caller_name_from_an_old_pbx_is_decoded_with_the_fallback():
    async def old_pbx(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER)
        writer.write(login_accepted(await reader.readuntil(b"\r\n\r\n")))
        writer.write(b"Event: Newchannel\r\nUniqueid: 1.1\r\nCallerIDName: " + "Пётр Сидоров".encode("cp1251")
                     + b"\r\n\r\n")
        await writer.drain()
        await reader.read()

    server = await asyncio.start_server(old_pbx, "127.0.0.1", 0)
    rec = Recorder()
    client = AmiClient(settings(server.sockets[0].getsockname()[1], ping_interval_s=30), rec.on_event)
    async with server:
        await client.start()
        try:
            await until(lambda: rec.events, 3)
        finally:
            await client.stop()
    assert rec.names("CallerIDName") == ["Пётр Сидоров"]


async def test_a_wrong_secret_shows_auth_failed_and_retries_with_back_off_not_in_a_loop(caplog):
    caplog.set_level(logging.INFO, "hub.ami")
    async with FakePbx(secret="right", speed=100.0) as pbx:
        client = AmiClient(settings(pbx.port, backoff_initial_s=0.1, backoff_max_s=0.4), Recorder().on_event)
        await client.start()
        try:
            await until(lambda: client.state == AUTH_FAILED)
            await asyncio.sleep(1.5)
        finally:
            await client.stop()
    assert 3 <= pbx.actions["Login"] <= 12, pbx.actions
    refused = [r for r in caplog.records if "refused the login" in r.getMessage()]
    assert len(refused) == 1, "one clear line, not one per retry"
    assert "hubsecret" not in caplog.text


async def test_a_half_open_link_is_found_by_ping_and_rebuilt():
    async with FakePbx("answered.txt", secret="hubsecret", speed=100.0) as pbx:
        rec = Recorder()
        client = AmiClient(settings(pbx.port), rec.on_event, rec.on_up)
        await client.start()
        try:
            await until(lambda: client.state == CONNECTED and rec.ups == 1)
            pbx.go_half_open()
            began = time.monotonic()
            await until(lambda: client.state != CONNECTED, 3)
            found_in = time.monotonic() - began
            pbx.recover()
            await until(lambda: client.state == CONNECTED and rec.ups == 2, 5)
        finally:
            await client.stop()
    assert found_in < 1.5  # ping every 0.2 s, answer due within 0.3 s
    assert client.connects == 2


async def test_an_originate_in_flight_when_the_link_drops_fails_and_is_never_sent_again():
    async with FakePbx(secret="hubsecret", answer_delay_s={"Originate": 0.5}) as pbx:
        rec = Recorder()
        client = AmiClient(settings(pbx.port, ping_interval_s=30), rec.on_event, rec.on_up)
        await client.start()
        try:
            await until(lambda: client.state == CONNECTED)
            call = asyncio.create_task(client.send({
                "Action": "Originate", "Channel": "PJSIP/101", "Context": "outbound", "Exten": "89161234567",
                "Priority": "1", "Async": "true", "Variable": "CRM_INQUIRY_ID=42",
            }, as_list=False))
            await until(lambda: pbx.actions["Originate"] == 1)
            pbx.drop()
            with pytest.raises(AmiLinkLost, match="not sent again"):
                await call
            await until(lambda: client.state == CONNECTED and rec.ups == 2)
            await asyncio.sleep(0.3)
        finally:
            await client.stop()
    assert pbx.actions["Originate"] == 1


async def test_the_pbx_refusing_an_action_reaches_the_caller_with_its_reason():
    async with FakePbx(secret="hubsecret", known_extensions=frozenset({"101"})) as pbx:
        client = AmiClient(settings(pbx.port, ping_interval_s=30), Recorder().on_event)
        await client.start()
        try:
            await until(lambda: client.state == CONNECTED)
            with pytest.raises(AmiActionRefused, match="Extension does not exist"):
                await client.send({"Action": "Originate", "Channel": "Local/999@nowhere", "Exten": "1"}, as_list=False)
            answer = await client.send({"Action": "Originate", "Channel": "PJSIP/101", "Exten": "1"}, as_list=False)
            assert answer["Message"] == "Originate successfully queued"
        finally:
            await client.stop()


async def test_a_line_break_in_a_value_cannot_inject_a_second_action():
    async with FakePbx(secret="hubsecret") as pbx:
        client = AmiClient(settings(pbx.port, ping_interval_s=30), Recorder().on_event)
        await client.start()
        try:
            await until(lambda: client.state == CONNECTED)
            with pytest.raises(UnsafeHeaderValue):
                await client.send({"Action": "Originate", "Exten": "1\r\n\r\nAction: Hangup\r\nChannel: all"})
        finally:
            await client.stop()
    assert pbx.actions["Hangup"] == 0 and pbx.actions["Originate"] == 0


async def test_an_endless_frame_is_cut_at_the_cap_and_the_link_rebuilt(caplog):
    caplog.set_level(logging.INFO, "hub.ami")
    sessions = []

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sessions.append(1)
        writer.write(BANNER)
        writer.write(login_accepted(await reader.readuntil(b"\r\n\r\n")))
        try:
            for _ in range(100):
                writer.write(b"Event: Junk\r\nX: " + b"y" * 8192)
                await writer.drain()
        except ConnectionError:
            pass

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    client = AmiClient(settings(server.sockets[0].getsockname()[1], max_frame_bytes=65536), Recorder().on_event)
    async with server:
        await client.start()
        try:
            await until(lambda: len(sessions) >= 2)
        finally:
            await client.stop()
    assert "exceeds the 65536-byte limit" in caplog.text


def test_back_off_grows_with_jitter_and_stays_under_the_cap():
    delays = [backoff_delay(n, 0.5, 30.0) for n in range(12)]
    assert all(0 < d <= 30.0 for d in delays)
    assert delays[0] <= 0.5 and delays[-1] >= 15.0
    assert backoff_delay(3, 0.5, 30.0, rand=lambda: 0.0) == 2.0
    assert backoff_delay(3, 0.5, 30.0, rand=lambda: 1.0) == 4.0
