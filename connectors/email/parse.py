"""Raw mail bytes → an IncomingEmail the hub can take in, whatever the sender's software did wrong.

Best effort and never raising on content: odd charsets (windows-1251, KOI8-R, x-mac-cyrillic, raw 8-bit,
unknown names), broken encoded-words, CR-only line ends, missing boundaries or header/body separator.
Every guess is written down in ``notes`` so the agent sees what was repaired. HTML is turned into text,
never rendered. Auto-replies, bounces and read receipts are recognised so nobody answers them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from typing import cast

from connectors.email.html_text import html_to_text

CHARSET_ALIASES = {"x-mac-cyrillic": "mac_cyrillic", "x-mac-ukrainian": "mac_cyrillic", "win-1251": "cp1251",
                   "windows-1251": "cp1251", "cp-1251": "cp1251", "x-cp1251": "cp1251", "koi8r": "koi8_r",
                   "unknown-8bit": "", "x-unknown": "", "us-ascii": "utf-8", "ascii": "utf-8"}
FALLBACK_CHARSETS = ("utf-8", "cp1251", "koi8_r")
AUTO_SUBJECT = re.compile(r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response)|out of (the )?office|"
                          r"автоответ|автоматический ответ|я отсутствую|меня нет в офисе)", re.IGNORECASE)
DAEMON = re.compile(r"^(mailer-daemon|postmaster)(@|$)", re.IGNORECASE)
MAX_TEXT_CHARS = 200_000


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    data: bytes | None  # None when over the size cap (the rest of the message is kept)


@dataclass(frozen=True, slots=True)
class IncomingEmail:
    message_id: str
    from_address: str | None
    from_name: str | None
    subject: str
    text: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: str | None = None  # auto_reply | bounce | feedback | receipt | bulk, or None for a person's mail
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())
    generated_id: bool = False
    original_ids: tuple[str, ...] = ()  # the Message-IDs a bounce, report or receipt is about

def parse_email(raw: bytes, *, max_attachment_bytes: int = 10 * 1024 * 1024) -> IncomingEmail:
    notes: list[str] = []
    raw = _repair_framing(raw, notes)
    msg = message_from_bytes(raw, policy=compat32)
    if msg.defects:
        notes.append("повреждённая структура письма / damaged MIME structure: "
                     + ", ".join(sorted({type(d).__name__ for d in msg.defects})))
    message_id, generated = _message_id(msg, raw)
    from_name, from_address = _sender(msg, notes)
    subject = _header_text(msg, "Subject", notes)
    text, attachments = _body(msg, notes, max_attachment_bytes)
    automatic = _automatic(msg, from_address, subject)
    return IncomingEmail(
        message_id=message_id, from_address=from_address, from_name=from_name, subject=subject,
        text=text[:MAX_TEXT_CHARS], in_reply_to=_first_id(_h(msg, "In-Reply-To")),
        references=tuple(_ids(_h(msg, "References"))), automatic=automatic,
        notes=tuple(notes), attachments=tuple(attachments), generated_id=generated,
        original_ids=_original_ids(msg, raw, message_id) if automatic else (),
    )


ORIGINAL_ID = re.compile(rb"^[ \t]*(?:original-)?message-id:[ \t]*(<[^<>\s]{1,250}>)", re.IGNORECASE | re.MULTILINE)
ENCLOSED = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/disposition-notification",
            "message/feedback-report", "message/delivery-status")


def _original_ids(msg: Message, raw: bytes, own: str) -> tuple[str, ...]:
    """The Message-IDs named inside a report: its enclosed original (whole or headers), the MDN's
    Original-Message-ID, or a bounce that quotes the original as text. Its own id is not one of them."""
    found: list[str] = []
    chunks = [raw]
    for part in msg.walk():
        if part.get_content_type() in ENCLOSED and not part.is_multipart():
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                chunks.append(data)
    for chunk in chunks:
        for m in ORIGINAL_ID.finditer(chunk):
            value = m.group(1).decode("ascii", "replace")
            if value != own and value not in found:
                found.append(value)
    return tuple(found[:20])


def _repair_framing(raw: bytes, notes: list[str]) -> bytes:
    if b"\r" in raw and b"\n" not in raw:
        notes.append("строки разделены только CR / CR-only line ends repaired")
        raw = raw.replace(b"\r", b"\n")
    stripped = raw.lstrip(b" \t\r\n")
    if stripped is not raw and len(stripped) != len(raw):
        raw = stripped
    return raw


def _h(msg: Message, name: str, notes: list[str] | None = None) -> str:
    """A header as text; compat32 hands back Header objects for raw 8-bit values."""
    lowered = name.lower()
    value = next((v for k, v in msg.raw_items() if k.lower() == lowered), None)
    if value is None:
        return ""
    value = str(value)
    return _unescape_8bit(value, notes if notes is not None else [], name)


def _unescape_8bit(value: str, notes: list[str], where: str = "header") -> str:
    """Raw 8-bit bytes that the parser kept as surrogate escapes: UTF-8 when they are (a broken byte
    replaced), else decoded by guessing (cp1251, KOI8-R…)."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return _decode_bytes(data, None, notes, where)


def _message_id(msg: Message, raw: bytes) -> tuple[str, bool]:
    found = _first_id(_h(msg, "Message-ID"))
    if found:
        return found, False
    return f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.hub>", True


ID_RE = re.compile(r"<[^<>\s]{1,250}>")


def _ids(value: object) -> list[str]:
    return ID_RE.findall(str(value)) if value else []


def _first_id(value: object) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _decode_bytes(data: bytes, declared: str | None, notes: list[str], where: str) -> str:
    name = (declared or "").strip().strip('"').lower()
    codec = CHARSET_ALIASES.get(name, name)
    if codec:
        try:
            return data.decode(codec)
        except LookupError:
            notes.append(f"{where}: неизвестная кодировка {name!r} / unknown charset, guessed")
        except UnicodeDecodeError as exc:
            if codec.replace("_", "-") in ("utf-8", "utf8") and (exc.start >= len(data) - 3 or _mostly_utf8(data)):
                return _broken_utf8(data, exc, notes, where)  # declared UTF-8 and it is: never a legacy guess
            notes.append(f"{where}: текст не в {name} / not valid {name}, guessed")
    for guess in FALLBACK_CHARSETS:
        try:
            text = data.decode(guess)
        except UnicodeDecodeError as exc:
            if guess == "utf-8" and (exc.start >= len(data) - 3 or _mostly_utf8(data)):
                return _broken_utf8(data, exc, notes, where)
            continue
        if guess == "koi8_r" or (guess == "cp1251" and _looks_like_koi8(text)):
            continue
        return text
    if _cyrillic_ratio(data.decode("koi8_r", "replace")) > 0.3:
        return data.decode("koi8_r", "replace")
    return data.decode("utf-8", "replace")


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 with a few broken bytes: many valid multi-byte characters, few invalid bytes. Legacy
    Cyrillic read as UTF-8 gives no valid multi-byte character at all."""
    text = data.decode("utf-8", "replace")
    broken = text.count("\ufffd")
    valid = sum(1 for c in text if ord(c) > 127 and c != "\ufffd")
    return valid >= 2 and broken * 4 <= valid


def _broken_utf8(data: bytes, exc: UnicodeDecodeError, notes: list[str], where: str) -> str:
    if exc.start >= len(data) - 3:  # UTF-8 cut mid-character at the very end
        notes.append(f"{where}: текст обрезан / truncated mid-character")
        return data.decode("utf-8", "replace").rstrip("\ufffd")
    notes.append(f"{where}: недопустимые байты UTF-8 заменены знаком \ufffd / invalid UTF-8 bytes replaced")
    return data.decode("utf-8", "replace")


def _looks_like_koi8(cp1251_text: str) -> bool:
    """KOI8-R read as cp1251 gives mostly upper-case Cyrillic; real cp1251 text is mostly lower-case."""
    letters = [c for c in cp1251_text if "А" <= c <= "я"]
    return len(letters) > 10 and sum(c.isupper() for c in letters) > 0.6 * len(letters)


def _cyrillic_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("а" <= c.lower() <= "я" for c in letters) / len(letters) if letters else 0.0


def _header_text(msg: Message, name: str, notes: list[str]) -> str:
    return _words(_h(msg, name, notes), notes, name)


def _words(raw: str, notes: list[str], name: str) -> str:
    """A header value's encoded-words (RFC 2047) decoded, folding or not, each charset on its own."""
    if not raw:
        return ""
    raw = FOLD.sub(" ", raw)
    parts = []
    try:
        pieces = decode_header(raw)
    except Exception:  # noqa: BLE001 - a broken encoded-word is kept as written
        notes.append(f"{name}: повреждённое кодирование / broken encoded-word kept as is")
        pieces = [(raw, None)]
    for value, charset in pieces:
        if isinstance(value, bytes):
            parts.append(_decode_bytes(value, charset, notes, name))
        else:
            parts.append(value)
    text = "".join(parts)
    if "=?" in text and "?=" in text:
        text = _loose_encoded_words(text, notes, name)
    return re.sub(r"\s+", " ", text).strip()


FOLD = re.compile(r"\r?\n[ \t]*")
LOOSE_WORD = re.compile(r"=\?([^?]+)\?([bBqQ])\?([^?]*)\?=")


def _loose_encoded_words(text: str, notes: list[str], where: str) -> str:
    """Encoded-words the strict parser left alone (inside quotes, unpadded base64): decode them anyway."""
    import base64
    import quopri

    def one(m: re.Match[str]) -> str:
        charset, kind, payload = m.groups()
        try:
            if kind in "bB":
                data = base64.b64decode(payload + "=" * (-len(payload) % 4))
            else:
                data = quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)
        except ValueError:
            return m.group(0)
        return _decode_bytes(data, charset, notes, where)

    return LOOSE_WORD.sub(one, text)


def _sender(msg: Message, notes: list[str]) -> tuple[str | None, str | None]:
    raw = _h(msg, "From", notes)
    if not raw:
        return None, None
    address: str | None
    name_part, address = parseaddr(raw)
    if not address or "@" not in address:
        pairs = getaddresses([str(raw)])
        address = next((a for _, a in pairs if "@" in a), address or None)
    name = _words(name_part, notes, "From") if name_part else None
    return (name or None), (address.strip().lower() if address else None)


def _body(msg: Message, notes: list[str], cap: int) -> tuple[str, list[Attachment]]:
    plain: list[str] = []
    html: list[str] = []
    attachments: list[Attachment] = []
    for index, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = _h(part, "Content-Disposition").split(";")[0].strip().lower()
        filename = part.get_filename() if disposition or part.get_param("name") else None
        payload = _payload(part, notes)
        if filename or disposition == "attachment" or not ctype.startswith(("text/", "message/")):
            if ctype.startswith("multipart/") or payload is None:
                continue
            attachments.append(_attachment(part, payload, index, cap, notes))
        elif ctype == "text/plain" and payload is not None:
            plain.append(_decode_bytes(payload, part.get_content_charset(), notes, "текст / body"))
        elif ctype == "text/html" and payload is not None:
            html.append(_decode_bytes(payload, part.get_content_charset(), notes, "HTML"))
    # An empty text part (a missing final boundary leaves one at the end) never hides the real body.
    plain = [p.strip() for p in plain if p.strip()]
    if plain:
        return "\n\n".join(plain), attachments
    texts = [t for t in (html_to_text(h) for h in html) if t]
    if texts:
        notes.append("только HTML, показан текст / HTML-only mail shown as text")
        return "\n\n".join(texts), attachments
    return "", attachments


def _payload(part: Message, notes: list[str]) -> bytes | None:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a part that cannot be decoded is noted, not fatal
        notes.append(f"часть {part.get_content_type()} не читается / unreadable part")
        return None
    if data is None and isinstance(part.get_payload(), str):
        data = cast(str, part.get_payload()).encode("utf-8", "surrogateescape")
    return cast("bytes | None", data)  # decode=True gives the bytes (or None), never a Message


UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def safe_filename(name: str | None, index: int) -> str:
    """A name that stays inside the attachment folder: no path parts, no control characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = UNSAFE_NAME.sub("_", base.replace("\ufffd", "")).strip(" .")
    if not base or set(base) <= {"."}:
        base = f"attachment-{index}"
    return base[:150]


def _attachment(part: Message, payload: bytes, index: int, cap: int, notes: list[str]) -> Attachment:
    raw_name = _raw_filename(part)
    if raw_name and "=?" in raw_name:
        raw_name = _words(raw_name, notes, "filename")
    name = safe_filename(raw_name, index)
    if len(payload) > cap:
        notes.append(f"вложение {name} ({len(payload)} байт) больше предела {cap} и не сохранено "
                     f"/ attachment over the size cap, not kept")
        return Attachment(name, part.get_content_type(), len(payload), None)
    return Attachment(name, part.get_content_type(), len(payload), payload)


def _raw_filename(part: Message) -> str | None:
    """The filename parameter read from the raw header, so raw 8-bit names are decoded, not replaced."""
    probe = Message()
    for header in ("Content-Disposition", "Content-Type"):
        value = _h(part, header)
        if value:
            probe[header] = value
    return probe.get_filename() or part.get_filename()


def _automatic(msg: Message, sender: str | None, subject: str) -> str | None:
    """Why this mail must never get an automatic answer (RFC 3834 and what real servers do)."""
    ctype = msg.get_content_type()
    report = (cast("str | None", msg.get_param("report-type")) or "").lower() if ctype == "multipart/report" else ""
    if report == "disposition-notification" or msg.get("Disposition-Notification-To") and ctype == "multipart/report":
        return "receipt"
    if report == "feedback-report" or ctype == "message/feedback-report":
        return "feedback"  # an abuse report (ARF, RFC 5965) about mail that went out
    if report == "delivery-status" or ctype == "message/delivery-status" or msg.get("X-Failed-Recipients"):
        return "bounce"
    if sender and DAEMON.match(sender) or _h(msg, "Return-Path").strip() == "<>":
        return "bounce" if "deliver" in subject.lower() or "undeliver" in subject.lower() or report else "auto_reply"
    if subject.lower().startswith("read:") or subject.lower().startswith("прочитано:"):
        return "receipt"
    auto = (_h(msg, "Auto-Submitted") or "no").strip().lower()
    if auto != "no" or msg.get("X-Autoreply") or msg.get("X-Autorespond"):
        return "auto_reply"
    if _h(msg, "Precedence").strip().lower() == "auto_reply":
        return "auto_reply"
    if _h(msg, "Precedence").strip().lower() in ("bulk", "junk", "list") or msg.get("X-Auto-Response-Suppress"):
        return "bulk"  # not answered automatically, but a person's (or a portal's) mail: still an inquiry
    if AUTO_SUBJECT.match(subject):
        return "auto_reply"
    return None
