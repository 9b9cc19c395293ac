"""Avito messenger API answers and webhook events (messenger API v3 webhooks, "Мессенджер" section of
developers.avito.ru) into ``AvitoMessage``. Pure: values in, values out; malformed parts left out."""

from __future__ import annotations

from typing import Any

from connectors.avito.events import AvitoMessage

MAX_TEXT = 20_000
LINKED = {"image": "изображение / image", "voice": "голосовое сообщение / voice message",
          "link": "ссылка / link", "item": "объявление / listing", "location": "место / location",
          "file": "файл / file", "video": "видео / video"}


def webhook_message(data: dict[str, Any]) -> tuple[str, AvitoMessage] | None:
    """(the event's id, its message) from ``{"id", "version", "timestamp", "payload": {"type": "message",
    "value": {...}}}``; None for another event type or a malformed one."""
    payload = data.get("payload")
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return None
    event_id = data.get("id")
    message = to_message(payload.get("value"), account=None)
    if message is None or not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        return None
    return event_id, message


def to_message(value: object, account: int | None, chat_id: str = "") -> AvitoMessage | None:
    """A message from a webhook's ``value`` or a messages list's row (``direction`` "in"/"out" there)."""
    if not isinstance(value, dict):
        return None
    message_id, chat = value.get("id"), value.get("chat_id") or chat_id
    author = _int(value.get("author_id"))
    if not isinstance(message_id, str) or not message_id or len(message_id) > 200 or not isinstance(chat, str) \
            or not chat or len(chat) > 200 or author is None:
        return None
    kind = str(value.get("type") or "text")
    if kind in ("system", "deleted") or author == 0:
        return None
    content = _dict(value.get("content"))
    text, notes = str(content.get("text") or ""), []
    if kind != "text":
        url = _link(content.get(kind))
        text = "\n".join(x for x in (text, f"Вложение: {url}" if url else "") if x) or f"[{LINKED.get(kind, kind)}]"
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        notes.append(f"текст обрезан до {MAX_TEXT} символов / text cut to {MAX_TEXT} characters")
    out = value.get("direction") == "out" if "direction" in value else (account is not None and author == account)
    return AvitoMessage(message_id, chat, author, text, _int(value.get("created")) or 0, out, tuple(notes))


def chat_context(chat: object, account: int) -> tuple[str, str, str, str]:
    """(listing id, its title, its url, the client's name) from a chat's description (messenger v2)."""
    if not isinstance(chat, dict):
        return "", "", "", ""
    context = _dict(chat.get("context"))
    item = _dict(context.get("value")) if context.get("type") == "item" else {}
    item_id = _int(item.get("id"))
    link = item.get("url")
    url = link if isinstance(link, str) and link.startswith("https://") else ""
    names = [str(u.get("name") or "")[:300] for u in chat.get("users") or []
             if isinstance(u, dict) and _int(u.get("id")) not in (None, account)]
    return (str(item_id) if item_id else "", str(item.get("title") or "")[:300], url[:2000],
            names[0] if names else "")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _link(value: object) -> str:
    if isinstance(value, dict):
        for key in ("url", "link", "1280x960", "640x480"):
            url = value.get(key)
            if isinstance(url, str) and url.startswith("https://") and len(url) <= 2000:
                return url
        sizes = value.get("sizes")
        if isinstance(sizes, dict):
            return _link(sizes)
    return ""


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return int(value)
    return None
