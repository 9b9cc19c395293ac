"""A client's data as a ZIP: ``data.json`` with every section, one JSON per section, the recordings and the mail
attachments.

Sections: the card, contacts, memorable dates, inquiries with their history, messages, calls with recordings
and transcripts, tasks, deals with their steps, consents and the access log. The ZIP is written to a
temporary name and renamed when whole, so an interrupted export never leaves half a file to download.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import (
    Base,
    Call,
    Client,
    Contact,
    Inquiry,
    InquiryEvent,
    MemorableDate,
    Message,
    Recording,
    Task,
    Transcript,
)
from crm_core.models.agency import Deal, DealStep
from crm_core.models.privacy import AccessLogEntry, ClientConsent, Erasure
from privacy.files import FileRoots

SECTIONS = ("client", "contacts", "dates", "inquiries", "inquiry_history", "messages", "calls", "recordings",
            "transcripts", "tasks", "deals", "deal_steps", "consents", "access_log", "erasures")


def row_dict(row: Base) -> dict[str, Any]:
    return {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns}


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass
class ExportData:
    sections: dict[str, list[dict[str, Any]]]
    files: list[tuple[str, Path]]  # (name in the ZIP, file on disk)


async def collect(s: AsyncSession, roots: FileRoots, client_id: int) -> ExportData:
    client = await s.get(Client, client_id)
    if client is None:
        raise LookupError("client")

    async def rows(stmt) -> list:  # noqa: ANN001
        return list((await s.execute(stmt)).scalars())

    inquiries = await rows(select(Inquiry).where(Inquiry.client_id == client_id).order_by(Inquiry.id))
    inq_ids = [i.id for i in inquiries]
    calls = await rows(select(Call).where(Call.client_id == client_id).order_by(Call.id))
    call_ids = [c.id for c in calls]
    recordings = await rows(select(Recording).where(Recording.call_id.in_(call_ids)).order_by(Recording.id))
    deals = await rows(select(Deal).where(Deal.client_id == client_id).order_by(Deal.id))
    messages = await rows(select(Message).where((Message.client_id == client_id) | Message.inquiry_id.in_(inq_ids))
                          .order_by(Message.id))
    sections: dict[str, list] = {
        "client": [client],
        "contacts": await rows(select(Contact).where(Contact.client_id == client_id).order_by(Contact.id)),
        "dates": await rows(select(MemorableDate).where(MemorableDate.client_id == client_id)),
        "inquiries": inquiries,
        "inquiry_history": await rows(select(InquiryEvent).where(InquiryEvent.inquiry_id.in_(inq_ids))
                                      .order_by(InquiryEvent.id)),
        "messages": messages,
        "calls": calls,
        "recordings": recordings,
        "transcripts": await rows(select(Transcript).where(Transcript.recording_id.in_([r.id for r in recordings]))
                                  .order_by(Transcript.id)),
        "tasks": await rows(select(Task).where(Task.client_id == client_id).order_by(Task.id)),
        "deals": deals,
        "deal_steps": await rows(select(DealStep).where(DealStep.deal_id.in_([d.id for d in deals]))
                                 .order_by(DealStep.id)),
        "consents": await rows(select(ClientConsent).where(ClientConsent.client_id == client_id)
                               .order_by(ClientConsent.at)),
        "access_log": await rows(select(AccessLogEntry).where(AccessLogEntry.client_id == client_id)
                                 .order_by(AccessLogEntry.at)),
        "erasures": await rows(select(Erasure).where(Erasure.client_id == client_id)),
    }
    files: list[tuple[str, Path]] = []
    for rec in recordings:
        path = roots.recording(rec.path)
        if path is not None:
            files.append((f"recordings/{rec.call_id}-{rec.id}{path.suffix}", path))
    for m in messages:
        for n, ref in enumerate((m.meta or {}).get("attachments") or []):
            path = roots.attachment(ref)
            if path is not None:
                files.append((f"attachments/{m.id}-{n:02d}-{path.name.split('-', 1)[-1]}", path))
    return ExportData({k: [row_dict(r) for r in v] for k, v in sections.items()}, files)


def write_zip(data: ExportData, target: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the ZIP (run in a thread): ``data.json`` with all plus one JSON per section, then the files."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    total = len(data.sections) + len(data.files) + 1
    done = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.json", _json(data.sections))
        for name, rows in data.sections.items():
            zf.writestr(f"{name}.json", _json(rows))
            done += 1
            if progress:
                progress(done, total)
        for name, path in data.files:
            zf.write(path, name, compress_type=zipfile.ZIP_STORED)
            done += 1
            if progress:
                progress(done, total)
    partial.rename(target)
    if progress:
        progress(total, total)
    return target


def _json(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=1, default=str)
