"""Cloud API webhook payloads (Meta's WhatsApp Cloud API, Graph API v21.0: "Webhooks", "messages" and
"statuses") into ``WaMessage`` and ``WaStatus``. Pure: values in, values out; what is not understood is
skipped, never raised."""

from __future__ import annotations

from typing import Any

from connectors.whatsapp.events import WaMedia, WaMessage, WaStatus

MEDIA = ("image", "document", "audio", "video", "sticker", "voice")
STATUSES = ("sent", "delivered", "read", "failed")
MAX_TEXT = 20_000


def payload_events(payload: dict[str, Any]) -> list[WaMessage | WaStatus]:
    events: list[WaMessage | WaStatus] = []
    if payload.get("object") != "whatsapp_business_account":
        return events
    for entry in _dicts(payload.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            names = {str(c.get("wa_id")): str(_dict(c.get("profile")).get("name") or "")[:300]
                     for c in _dicts(value.get("contacts"))}
            events += [m for m in (_message(m, names) for m in _dicts(value.get("messages"))) if m]
            events += [s for s in (_status(s) for s in _dicts(value.get("statuses"))) if s]
    return events


def _message(m: dict[str, Any], names: dict[str, str]) -> WaMessage | None:
    message_id, wa_id, kind = str(m.get("id") or ""), str(m.get("from") or ""), str(m.get("type") or "")
    if not message_id or len(message_id) > 200 or not wa_id.isdigit() or len(wa_id) > 20:
        return None
    body = _dict(m.get(kind))
    text, media, notes = "", [], []
    if kind == "text":
        text = str(body.get("body") or "")
    elif kind in MEDIA:
        text = str(body.get("caption") or "")
        if isinstance(body.get("id"), str):
            media.append(WaMedia(kind, body["id"], str(body.get("mime_type") or "")[:100],
                                 str(body.get("filename") or "")[:200]))
    elif kind == "location":
        place = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        text = f"Местоположение: {body.get('latitude')}, {body.get('longitude')}" + (f" ({place})" if place else "")
    elif kind in ("button", "interactive"):
        reply = _dict(body.get("button_reply") or body.get("list_reply"))
        text = str(body.get("text") or reply.get("title") or "")
    elif kind == "reaction":
        text = f"Реакция: {body.get('emoji') or ''}"
    else:
        notes.append(f"сообщение типа «{kind[:30]}» не разобрано / a {kind[:30]} message is not read")
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        notes.append(f"текст обрезан до {MAX_TEXT} символов / text cut to {MAX_TEXT} characters")
    return WaMessage(message_id, wa_id, names.get(wa_id, ""), _int(m.get("timestamp")), kind, text, tuple(media),
                     notes=tuple(notes))


def _status(s: dict[str, Any]) -> WaStatus | None:
    message_id, status = str(s.get("id") or ""), str(s.get("status") or "")
    if not message_id or len(message_id) > 200 or status not in STATUSES:
        return None
    errors = tuple(f"{e.get('code')}: {str(e.get('title') or e.get('message') or '')[:200]}"
                   for e in _dicts(s.get("errors")))
    return WaStatus(message_id, status, str(s.get("recipient_id") or "")[:20], _int(s.get("timestamp")), errors)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 15 else 0
