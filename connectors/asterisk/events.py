"""The AMI event as the hub consumes it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class AmiEvent:
    name: str
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    received_at: float = 0.0

    @classmethod
    def from_frame(cls, frame: Mapping[str, str], received_at: float) -> AmiEvent | None:
        """Build an event from an ``Event:`` frame; ``None`` for responses and junk."""
        name = frame.get("Event")
        if not name:
            return None
        return cls(name, MappingProxyType(dict(frame)), received_at)

    def get(self, key: str, default: str = "") -> str:
        return self.headers.get(key, default)
