"""Callback API events (VK API 5.199, dev.vk.com "Callback API" and "messages.send") into ``VkInbound``.
Pure: values in, values out. A private dialogue only (``peer_id`` below 2,000,000,000); chats are left out."""

from __future__ import annotations

from typing import Any

from connectors.vk.events import VkInbound

CHAT_PEERS = 2_000_000_000
MAX_TEXT = 20_000
MAX_LINKS = 20
KINDS = {"message_new": "message", "message_reply": "reply", "message_edit": "edit", "message_allow": "allow",
         "message_deny": "deny"}


def event_to_inbound(data: dict[str, Any]) -> VkInbound | None:
    """None for an event the hub does not take (another type, a chat, a malformed object)."""
    kind = KINDS.get(str(data.get("type")))
    obj = data.get("object")
    event_id = str(data.get("event_id") or "")
    if kind is None or not isinstance(obj, dict):
        return None
    if kind in ("allow", "deny"):
        user = _int(obj.get("user_id"))
        return VkInbound(event_id, kind, user) if user and user > 0 else None
    message = _dict(obj.get("message")) or obj  # 5.103+ wraps message_new's message
    peer, cmid = _int(message.get("peer_id")), _int(message.get("conversation_message_id"))
    if not peer or peer <= 0 or peer >= CHAT_PEERS or cmid is None:
        return None
    text = str(message.get("text") or "")
    notes: list[str] = []
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        notes.append(f"текст обрезан до {MAX_TEXT} символов / text cut to {MAX_TEXT} characters")
    links, kinds = attachment_links(message.get("attachments"))
    notes += [f"вложение без ссылки: {k} / attachment without a link: {k}" for k in kinds]
    return VkInbound(event_id, kind, user_id=peer, peer_id=peer, message_id=f"{peer}:{cmid}", text=text,
                     links=tuple(links), notes=tuple(notes), date=_int(message.get("date")) or 0,
                     random_id=_int(message.get("random_id")) or 0)


def attachment_links(attachments: object) -> tuple[list[str], list[str]]:
    """(links, kinds without a link): VK attachments are kept as links, never downloaded."""
    links: list[str] = []
    bare: list[str] = []
    for item in attachments if isinstance(attachments, list) else []:
        if not isinstance(item, dict):
            continue
        kind = str(item.get("type") or "?")[:30]
        body = _dict(item.get(kind))
        url = _link(kind, body)
        if url and len(links) < MAX_LINKS:
            links.append(url)
        elif not url:
            bare.append(kind)
    return links, bare


def _link(kind: str, body: dict[str, Any]) -> str | None:
    if kind == "photo":
        sizes = [s for s in body.get("sizes") or [] if isinstance(s, dict) and _web(s.get("url"))]
        best = max(sizes, key=lambda s: (_int(s.get("width")) or 0) * (_int(s.get("height")) or 0), default=None)
        return str(best["url"]) if best else None
    if kind == "doc" or kind == "link":
        return str(body["url"]) if _web(body.get("url")) else None
    if kind == "audio_message":
        url = body.get("link_mp3") or body.get("link_ogg")
        return str(url) if _web(url) else None
    owner, item = _int(body.get("owner_id") or body.get("to_id")), _int(body.get("id"))
    if kind in ("video", "wall", "market") and owner is not None and item is not None:
        return f"https://vk.com/{kind}{owner}_{item}"
    return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _web(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 2000


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 20:
        return int(value)
    return None
