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
                          r"автоответ|автоматический ответ|отсутств)", re.IGNORECASE)
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
    automatic: str | None = None  # auto_reply | bounce | receipt | bulk, or None for a person's mail
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default=())
    generated_id: bool = False


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
    return IncomingEmail(
        message_id=message_id, from_address=from_address, from_name=from_name, subject=subject,
        text=text[:MAX_TEXT_CHARS], in_reply_to=_first_id(_h(msg, "In-Reply-To")),
        references=tuple(_ids(_h(msg, "References"))), automatic=_automatic(msg, from_address, subject),
        notes=tuple(notes), attachments=tuple(attachments), generated_id=generated,
    )


def _repair_framing(raw: bytes, notes: list[str]) -> bytes:
    if b"\r" in raw and b"\n" not in raw:
        notes.append("строки разделены только CR / CR-only line ends repaired")
        raw = raw.replace(b"\r", b"\n")
    stripped = raw.lstrip(b" \t\r\n")
    if stripped is not raw and len(stripped) != len(raw):
        raw = stripped
    return raw


def _h(msg: Message, name: str) -> str:
    """A header as text; compat32 hands back Header objects for raw 8-bit values."""
    lowered = name.lower()
    value = next((v for k, v in msg.raw_items() if k.lower() == lowered), None)
    if value is None:
        return ""
    value = str(value)
    return _unescape_8bit(value)


def _unescape_8bit(value: str) -> str:
    """Raw 8-bit bytes that the parser kept as surrogate escapes: decode them by guessing (UTF-8, cp1251…)."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return _decode_bytes(data, None, [], "header")


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
        except UnicodeDecodeError:
            notes.append(f"{where}: текст не в {name} / not valid {name}, guessed")
    for guess in FALLBACK_CHARSETS:
        try:
            text = data.decode(guess)
        except UnicodeDecodeError as exc:
            if guess == "utf-8" and exc.start >= len(data) - 3:  # UTF-8 cut mid-character at the very end
                notes.append(f"{where}: текст обрезан / truncated mid-character")
                return data.decode("utf-8", "replace").rstrip("\ufffd")
            continue
        if guess == "koi8_r" or (guess == "cp1251" and _looks_like_koi8(text)):
            continue
        return text
    if _cyrillic_ratio(data.decode("koi8_r", "replace")) > 0.3:
        return data.decode("koi8_r", "replace")
    return data.decode("utf-8", "replace")


def _looks_like_koi8(cp1251_text: str) -> bool:
    """KOI8-R read as cp1251 gives mostly upper-case Cyrillic; real cp1251 text is mostly lower-case."""
    letters = [c for c in cp1251_text if "А" <= c <= "я"]
    return len(letters) > 10 and sum(c.isupper() for c in letters) > 0.6 * len(letters)


def _cyrillic_ratio(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("а" <= c.lower() <= "я" for c in letters) / len(letters) if letters else 0.0


def _header_text(msg: Message, name: str, notes: list[str]) -> str:
    raw = _h(msg, name)
    if not raw:
        return ""
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
    raw = _h(msg, "From")
    if not raw:
        return None, None
    address: str | None
    name_part, address = parseaddr(raw)
    if not address or "@" not in address:
        pairs = getaddresses([str(raw)])
        address = next((a for _, a in pairs if "@" in a), address or None)
    name = _header_text(_single("From", name_part), "From", notes) if name_part else None
    return (name or None), (address.strip().lower() if address else None)


def _single(name: str, value: str) -> Message:
    m = Message()
    m[name] = value
    return m


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
    if plain:
        return "\n\n".join(p.strip() for p in plain if p.strip()), attachments
    if html:
        notes.append("только HTML, показан текст / HTML-only mail shown as text")
        return "\n\n".join(html_to_text(h) for h in html), attachments
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
        raw_name = _header_text(_single("X-Name", raw_name), "filename", notes)
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
    if report == "delivery-status" or ctype == "message/delivery-status" or msg.get("X-Failed-Recipients"):
        return "bounce"
    if sender and DAEMON.match(sender) or _h(msg, "Return-Path").strip() == "<>":
        return "bounce" if "deliver" in subject.lower() or "undeliver" in subject.lower() or report else "auto_reply"
    if subject.lower().startswith("read:") or subject.lower().startswith("прочитано:"):
        return "receipt"
    auto = (_h(msg, "Auto-Submitted") or "no").strip().lower()
    if auto != "no" or msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress"):
        return "auto_reply"
    if _h(msg, "Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return "bulk"
    if AUTO_SUBJECT.match(subject):
        return "auto_reply"
    return None
