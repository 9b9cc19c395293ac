"""Under systemd (Type=notify, WatchdogSec=): READY=1 once the hub listens, then WATCHDOG=1 from the event loop."""

from __future__ import annotations

import asyncio
import socket

from ops import sdnotify


async def test_ready_then_watchdog_pings_while_the_loop_turns(tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "100000")  # WatchdogSec=0.1: a ping every 50 ms
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        task = sdnotify.ready()
        assert task is not None
        await asyncio.sleep(0.2)
        sdnotify.stopping()
        task.cancel()
        messages = []
        while True:
            try:
                messages.append(systemd.recv(256).decode())
            except BlockingIOError:
                break
    assert messages[0].startswith("READY=1")
    assert messages.count("WATCHDOG=1") >= 3 and messages[-1] == "STOPPING=1"


def test_nothing_is_sent_outside_systemd(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.notify("READY=1") is False
