"""Raw Bot API updates (JSON) → TelegramInbound. Pure; an update of a kind this hub does not know is
skipped (None), never an error: Telegram adds kinds over time. A text longer than Telegram's own limit
(4,096 characters: only a forged or broken update carries more) is cut, with a note saying so; a field of
the wrong type is read as absent."""

from __future__ import annotations

import logging
from typing import Any

from connectors.telegram.events import TelegramInbound

log = logging.getLogger("hub.telegram")
MEDIA = ("photo", "document", "voice", "audio", "video", "video_note", "sticker")
MAX_TEXT = 4096
"""Telegram's limit for a message text (a caption's is 1,024): more is cut."""


def update_to_event(update: dict[str, Any]) -> TelegramInbound | None:
    update_id = update.get("update_id")
    if not isinstance(update_id, int):
        log.warning("telegram update without update_id skipped")
        return None
    if "my_chat_member" in update:
        return _membership(update_id, _dict(update["my_chat_member"]))
    edited = "edited_message" in update
    message = update.get("message") or update.get("edited_message")
    if not isinstance(message, dict):
        log.info("telegram update %s of kind %s skipped", update_id,
                 ",".join(k for k in update if k != "update_id") or "empty")
        return None
    chat = _dict(message.get("chat"))
    if chat.get("type") != "private" or not isinstance(chat.get("id"), int):
        log.info("telegram update %s from a non-private chat skipped", update_id)
        return None
    sender = _dict(message.get("from"))
    base = {"update_id": update_id, "chat_id": chat["id"], "user_id": sender.get("id"), "name": _name(sender),
            "message_id": message.get("message_id")}
    text = _str(message.get("text")) or _str(message.get("caption"))
    if len(text) > MAX_TEXT:
        log.warning("telegram update %s: a text of %d characters cut to %d", update_id, len(text), MAX_TEXT)
        base["notes"] = (f"текст обрезан до {MAX_TEXT} символов из {len(text)} "
                         f"/ text cut to {MAX_TEXT} of {len(text)} characters",)
        text = text[:MAX_TEXT]
    if edited:
        return TelegramInbound(kind="edited", text=text, **base)
    contact = message.get("contact")
    if isinstance(contact, dict) and contact.get("phone_number"):
        own = contact.get("user_id") in (None, sender.get("id"))
        if not own:
            log.info("telegram update %s: a contact of someone else, not used to identify", update_id)
            return TelegramInbound(kind="text", text=f"[контакт] {_name(contact)} {_phone(contact)}", **base)
        return TelegramInbound(kind="contact", phone=_phone(contact), **base)
    files = tuple(_file_ids(message))
    if files:
        return TelegramInbound(kind="media", text=text, files=files, **base)
    command = text.strip().split()[0].split("@")[0].lower() if text.strip().startswith("/") else ""
    if command == "/start":
        return TelegramInbound(kind="start", **base)
    if command == "/status":
        return TelegramInbound(kind="status", **base)
    if text.strip():
        return TelegramInbound(kind="text", text=text, **base)
    log.info("telegram update %s with nothing the hub uses skipped", update_id)
    return None


def _membership(update_id: int, change: dict[str, Any]) -> TelegramInbound | None:
    chat = _dict(change.get("chat"))
    status = _dict(change.get("new_chat_member")).get("status") or ""
    if chat.get("type") != "private" or not isinstance(chat.get("id"), int):
        return None
    kind = "blocked" if status in ("kicked", "left") else "unblocked" if status == "member" else None
    if kind is None:
        return None
    sender = _dict(change.get("from"))
    return TelegramInbound(update_id=update_id, kind=kind, chat_id=chat["id"], user_id=sender.get("id"),
                           name=_name(sender))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _phone(contact: dict[str, Any]) -> str:
    return str(contact["phone_number"])[:64]


def _name(person: dict[str, Any]) -> str:
    return " ".join(str(p) for p in (person.get("first_name"), person.get("last_name")) if p).strip()[:200]


def _file_ids(message: dict[str, Any]) -> list[str]:
    found = []
    for kind in MEDIA:
        value = message.get(kind)
        if isinstance(value, list) and value:  # photo: sizes, the largest last
            value = value[-1]
        if isinstance(value, dict) and value.get("file_id"):
            found.append(f"{kind}:{value['file_id']}")
    return found
