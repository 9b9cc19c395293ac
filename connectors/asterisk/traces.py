"""Read the captured AMI sessions of a real Asterisk 22 kept in ``ami_traces/`` beside this module (package
data, so an installed hub finds them too; format and provenance: ``ami_traces/README.md``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

Direction = Literal["<<<", ">>>"]
TraceEntry = tuple[float, Direction, bytes]


def traces_dir() -> Path:
    """The packaged traces' folder (a real folder: the package is installed unzipped)."""
    return Path(str(resources.files("connectors.asterisk") / "ami_traces"))


def trace_path(name: str) -> Path:
    return traces_dir() / name


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
