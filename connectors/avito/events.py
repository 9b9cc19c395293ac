from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AvitoMessage:
    """One messenger message in the hub's terms. ``out``: written by the agency's account (in Avito's own
    app, or by the hub)."""

    message_id: str
    chat_id: str
    author_id: int
    text: str
    created: int = 0
    out: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AvitoInbound:
    """A webhook's new message, with what the hub learnt of its chat on first sight."""

    event_id: str
    message: AvitoMessage
    item_id: str = ""
    """The listing the chat is about (``context.value.id``), "" for a chat between users."""
    item_title: str = ""
    item_url: str = ""
    name: str = ""
    history: tuple[AvitoMessage, ...] = ()
    """Earlier messages of a chat seen for the first time, oldest first."""
