from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WaMedia:
    kind: str
    media_id: str
    mime_type: str = ""
    filename: str = ""


@dataclass(frozen=True, slots=True)
class WaMessage:
    """A client's message. ``wa_id``: their WhatsApp number, digits only (the country code first)."""

    message_id: str
    wa_id: str
    name: str
    timestamp: int
    kind: str
    text: str = ""
    media: tuple[WaMedia, ...] = ()
    saved: tuple[str, ...] = ()
    """Where the connector kept each medium it downloaded (paths on disk)."""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WaStatus:
    """What became of a message the hub sent: sent, delivered, read or failed (``errors`` then say why)."""

    message_id: str
    status: str
    wa_id: str
    timestamp: int
    errors: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.message_id}:{self.status}"
