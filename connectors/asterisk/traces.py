"""Read the captured AMI sessions in ``shared/ami-traces`` (format: see its README)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

Direction = Literal["<<<", ">>>"]
TraceEntry = tuple[float, Direction, bytes]


def shared_dir() -> Path:
    env = os.environ.get("HUB_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared"


def trace_path(name: str) -> Path:
    return shared_dir() / "ami-traces" / name


def read_trace(name_or_path: str | Path) -> list[TraceEntry]:
    """Return ``(t, direction, wire bytes)`` per frame; ``<<<`` frames are the exact bytes Asterisk sent."""
    path = Path(name_or_path)
    if not path.is_absolute() and not path.exists():
        path = trace_path(str(name_or_path))
    entries: list[TraceEntry] = []
    t = 0.0
    lines: dict[str, list[bytes]] = {"<<<": [], ">>>": []}
    for raw in path.read_bytes().split(b"\n"):
        if raw.startswith(b"# t="):
            t = float(raw[4:].decode("ascii"))
            continue
        prefix = raw[:3].decode("ascii", errors="replace")
        if prefix not in lines or raw[3:4] != b" ":
            continue
        body = raw[4:]
        pending = lines[prefix]
        if prefix == "<<<" and not pending and body.startswith(b"Asterisk Call Manager/"):
            entries.append((t, "<<<", body + b"\r\n"))
            continue
        if body:
            pending.append(body)
            continue
        entries.append((t, prefix, b"".join(line + b"\r\n" for line in pending) + b"\r\n"))  # type: ignore[arg-type]
        pending.clear()
    return entries


def incoming_bytes(name_or_path: str | Path) -> bytes:
    """All bytes Asterisk sent in the session, concatenated as on the wire."""
    return b"".join(frame for _, direction, frame in read_trace(name_or_path) if direction == "<<<")
