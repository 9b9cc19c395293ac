"""What the intake stores fits the columns, the same on SQLite and PostgreSQL, whatever the channel sent.

SQLite takes a 130,000-character subject into ``VARCHAR(500)``; PostgreSQL refuses it, and refuses NUL
characters and lone surrogates in any text. So the hub enforces the limits itself, before the insert:
every string of an ``IntakeRequest`` is cut to the narrowest column it lands in (read from the models'
``String(n)``), with a note on the inquiry saying what was cut; an outside id that is too long becomes
its prefix plus a hash, the same each time, so a repeat is still found as the duplicate and a reply still
finds its thread. Nothing here fails: a request always comes out storable.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache
from typing import Any

from crm_core.models import Client, Contact, Inquiry, Message

# Where each field of a request is stored; its limit is the narrowest of these columns.
COLUMNS = {
    "external_id": ((Message, "external_id"), (Inquiry, "external_id")),
    "thread_key": ((Inquiry, "thread_key"),),
    "subject": ((Message, "subject"), (Inquiry, "subject")),
    "name": ((Client, "name"),),
    "source": ((Inquiry, "source"),),
    "did": ((Inquiry, "did"),),
    "email": ((Contact, "value"),),
    "telegram_id": ((Contact, "value"),),
}
LABELS = {"subject": ("тема", "subject"), "name": ("имя", "name"), "source": ("источник", "source"),
          "did": ("номер", "dialled number"), "external_id": ("идентификатор", "id"),
          "thread_key": ("идентификатор переписки", "thread id")}
CONTACTS = ("email", "telegram_id")  # a cut address would reach someone else: dropped with a note instead
IDS = ("external_id", "thread_key")


@cache
def limit(field: str) -> int | None:
    lengths = [getattr(model.__table__.c, column).type.length for model, column in COLUMNS[field]]
    known = [n for n in lengths if n]
    return min(known) if known else None


def clean(value: str) -> str:
    """No NUL (PostgreSQL refuses it in text and JSON) and no lone surrogates (not encodable as UTF-8)."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if any("\ud800" <= c <= "\udfff" for c in value):
        value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
    return value


def clean_json(value: Any) -> Any:  # noqa: ANN401 - any JSON value
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {clean(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


def fit_id(value: str, n: int | None = None) -> str:
    """An outside id cut to ``n`` characters, deterministically: the prefix and a hash of the whole."""
    n = n or limit("external_id") or 300
    if len(value) <= n:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{value[:n - 26]}#~{digest}"


def fit_request(req: Any) -> Any:  # noqa: ANN401 - IntakeRequest (kept loose: intake imports this module)
    """``req`` with every string storable in its column; what was cut is said in ``notes``."""
    notes = [clean(n) for n in req.notes]
    changes: dict[str, Any] = {}
    for field in COLUMNS:
        value = getattr(req, field)
        if value is None:
            continue
        text = clean(str(value))
        n = limit(field)
        if n is not None and len(text) > n:
            if field in CONTACTS:
                notes.append(f"адрес длиннее {n} символов не сохранён как контакт "
                             f"/ an address over {n} characters was not kept as a contact")
                text = None  # type: ignore[assignment]
            elif field in IDS:
                text = fit_id(text, n)
                ru, en = LABELS[field]
                notes.append(f"{ru} длиннее {n} символов сокращён / {en} over {n} characters shortened")
            else:
                text = text[:n]
                ru, en = LABELS[field]
                notes.append(f"{ru} обрезана до {n} символов / {en} cut to {n} characters" if field == "subject"
                             else f"{ru}: обрезано до {n} символов / {en} cut to {n} characters")
        if text != value:
            changes[field] = text
    text = clean(req.text or "")
    if text != (req.text or ""):
        changes["text"] = text
    reply_to = tuple(fit_id(clean(k)) for k in req.reply_to if k)
    if reply_to != tuple(k for k in req.reply_to if k):
        changes["reply_to"] = reply_to
    if notes != list(req.notes):
        changes["notes"] = tuple(notes)
    meta, utm = clean_json(dict(req.meta)), clean_json(dict(req.utm))
    if meta != req.meta:
        changes["meta"] = meta
    if utm != req.utm:
        changes["utm"] = utm
    return replace(req, **changes) if changes else req


def id_ref(value: str) -> str:
    """An id as the logs name it: a short hash (a Message-ID may hold a person's address)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
