from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TelegramInbound:
    """One update from a client, in the hub's terms. ``kind``: start, status, text, contact, media, edited,
    blocked, unblocked."""

    update_id: int
    kind: str
    chat_id: int
    user_id: int | None
    name: str
    message_id: int | None = None
    text: str = ""
    phone: str | None = None
    files: tuple[str, ...] = ()
    """``kind:file_id`` of each photo, document, voice note… as Telegram names them."""
    saved: tuple[str, ...] = ()
    """Where the connector kept each file it could download (paths on disk)."""
    notes: tuple[str, ...] = ()
    """What could not be kept and why (too large, download failed): the message itself is never lost."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A message for a chat. Here, not beside the connector: the hub's services speak of replies without
    loading python-telegram-bot (16 MB) when the bot is off."""

    chat_id: int
    text: str
    ask_contact: bool = False
