"""systemd's notify protocol: READY=1 once the hub listens, then WATCHDOG=1 while its event loop turns.

Only when systemd set ``NOTIFY_SOCKET`` (``Type=notify``); ``WatchdogSec=`` in the unit makes systemd restart
a hub whose loop stopped turning (a hang that a restart-on-crash would never see).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket


def notify(message: str) -> bool:
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.sendto(message.encode(), address)
        return True
    return False


async def _watchdog(interval_s: float) -> None:
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval_s)


def ready() -> asyncio.Task[None] | None:
    """Tell systemd the hub is up; with a watchdog, ping it at half its interval from the event loop."""
    notify("READY=1\nSTATUS=serving")
    usec = os.environ.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit() or os.environ.get("WATCHDOG_PID", str(os.getpid())) != str(os.getpid()):
        return None
    return asyncio.get_running_loop().create_task(_watchdog(int(usec) / 2_000_000), name="sd-watchdog")


def stopping() -> None:
    notify("STOPPING=1")
