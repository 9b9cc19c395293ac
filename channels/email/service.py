"""Mail that the email connector read becomes an intake request; attachments go to disk, safely."""

from __future__ import annotations

import hashlib
from pathlib import Path

from connectors.email.parse import Attachment, IncomingEmail
from crm_core.intake import IntakeRequest
from crm_core.models import Channel


def store_attachments(root: Path, message_id: str, attachments: tuple[Attachment, ...]) -> list[dict]:
    """Write kept attachments under root/<hash of the message id>/; a name can never leave that folder."""
    folder = (root / hashlib.sha256(message_id.encode()).hexdigest()[:24]).resolve()
    refs = []
    for n, att in enumerate(attachments):
        ref = {"filename": att.filename, "content_type": att.content_type, "size": att.size, "kept": False}
        if att.data is not None:
            target = (folder / f"{n:02d}-{att.filename}").resolve()
            if not target.is_relative_to(folder):  # belt and braces: safe_filename already strips paths
                raise ValueError(f"attachment name escapes its folder: {att.filename!r}")
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(att.data)
            ref.update(kept=True, path=str(target.relative_to(root.resolve())))
        refs.append(ref)
    return refs


def email_request(mail: IncomingEmail, attachment_refs: list[dict]) -> IntakeRequest:
    return IntakeRequest(
        channel=Channel.EMAIL, external_id=mail.message_id, email=mail.from_address, name=mail.from_name,
        subject=mail.subject or None, text=mail.text, thread_key=mail.message_id,
        reply_to=tuple(x for x in (mail.in_reply_to, *mail.references) if x), source="email",
        notes=mail.notes, meta={"automatic": mail.automatic, "attachments": attachment_refs,
                                "generated_id": mail.generated_id},
    )
