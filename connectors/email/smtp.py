"""Mail out over SMTP with aiosmtplib: timeouts on connect and send, STARTTLS/TLS per settings.

Headers are built with the standard library's EmailMessage in its strict policy, which refuses a
line break inside a header value, so nothing a client typed can add a header (no ``\\r\\nBcc:``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

import aiosmtplib

from connectors.email.errors import PermanentSendError, TemporarySendError
from connectors.email.settings import EmailSettings

log = logging.getLogger("hub.email.smtp")


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    to: str
    subject: str
    text: str
    message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


def new_message_id(domain: str) -> str:
    return make_msgid(domain=domain)


def build_message(settings: EmailSettings, mail: OutgoingEmail) -> EmailMessage:
    msg = EmailMessage(policy=SMTP)
    for value in (mail.to, mail.subject, mail.message_id, mail.in_reply_to or "", *mail.references):
        if "\r" in value or "\n" in value:
            raise PermanentSendError("line break in a header value refused")
    local, _, domain = settings.from_address.partition("@")
    msg["From"] = Address(settings.from_name, local, domain)
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Message-ID"] = mail.message_id
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Auto-Submitted"] = "no"
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        msg["References"] = " ".join(mail.references)
    msg.set_content(mail.text)
    return msg


class SmtpSender:
    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    async def send(self, mail: OutgoingEmail) -> None:
        s = self.settings
        message = build_message(s, mail)
        try:
            await aiosmtplib.send(
                message, hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_s,
                username=s.smtp_user, password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                use_tls=s.smtp_security == "tls", start_tls=s.smtp_security == "starttls",
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(400 <= c < 500 for c in codes):
                raise TemporarySendError(f"recipient deferred: {codes}") from None
            raise PermanentSendError(f"recipient refused: {codes}") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise TemporarySendError(f"server said {exc.code}") from None
            raise PermanentSendError(f"server said {exc.code} {exc.message[:200]}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporarySendError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        log.info("mail sent message_id=%s", mail.message_id)
