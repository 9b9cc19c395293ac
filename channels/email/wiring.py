"""``imap_connector(hub)``: the mailbox's connector feeding the intake."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("hub")


def imap_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    """Mail in: parse off the event loop, keep attachments on disk, then the intake service."""
    from channels.email.service import email_request, store_attachments
    from connectors.email.imap import ImapConnector, MailRef
    from connectors.email.parse import parse_email
    from crm_core.connector_state import DbCheckpoint

    attachments_dir = hub.var_dir / "attachments"

    async def on_mail(raw: bytes, ref: MailRef) -> None:
        mail = await asyncio.to_thread(parse_email, raw)
        refs = await asyncio.to_thread(store_attachments, attachments_dir, mail.message_id, mail.attachments)
        result = await hub.intake.accept(email_request(mail, refs))
        log.info("mail uid=%s message_id=%s inquiry=%s automatic=%s duplicate=%s", ref.uid, mail.message_id,
                 result.inquiry_id, mail.automatic, result.duplicate)

    return ImapConnector(hub.settings.email, on_mail, DbCheckpoint(hub.database.sessions))
