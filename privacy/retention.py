"""Retention: what is past its period is deleted or anonymised, in batches, keeping the rows reports count.

Per kind (``[privacy.retention]``, 0 days = keep):
- recordings: the file is deleted, the recording's path emptied (its duration stays), the call kept;
- transcripts: text and words cleared, the search document removed (the status stays "done");
- messages: body, subject and metadata cleared, attachments deleted (the message row and its direction stay);
- closed inquiries: subject emptied, the history's notes and the timeline's lines about them cleared;
- web sessions: sessions that expired that long ago removed (staff and client self-service);
- logs: the access log's rows removed.

Each batch is one transaction; an interrupted run leaves whole batches done and the rest for the next run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_core.models import (
    Call,
    Inquiry,
    InquiryEvent,
    Message,
    Recording,
    TimelineEntry,
    Transcript,
    WebSession,
    utcnow,
)
from crm_core.models.privacy import AccessLogEntry, RetentionRun
from crm_core.models.selfservice import SelfServiceSession
from crm_core.models.speech import SpeechDocument, SpeechWord
from privacy.files import FileRoots, remove
from privacy.settings import RetentionSettings

log = logging.getLogger("hub.privacy")
KINDS = ("recordings", "transcripts", "messages", "closed_inquiries", "web_sessions", "logs")
Progress = Callable[[str, int], None]


@dataclass
class RetentionReport:
    dry_run: bool
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    files: int = 0
    seconds: float = 0.0

    def summary(self) -> dict:
        return {"rows": dict(self.rows), "files": self.files, "seconds": round(self.seconds, 3)}


class Retention:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: RetentionSettings, roots: FileRoots,
                 *, instance: str = "", clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions, self.settings, self.roots = sessions, settings, roots
        self.instance, self.clock = instance, clock

    def cutoff(self, days: int) -> datetime | None:
        return self.clock() - timedelta(days=days) if days > 0 else None

    async def run(self, *, dry_run: bool = False, progress: Progress | None = None) -> RetentionReport:
        started = self.clock()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        report = RetentionReport(dry_run)
        s = self.settings
        steps = (("recordings", s.recordings_days, self._recordings), ("transcripts", s.transcripts_days,
                 self._transcripts), ("messages", s.messages_days, self._messages),
                 ("closed_inquiries", s.closed_inquiries_days, self._inquiries),
                 ("web_sessions", s.web_sessions_days, self._sessions), ("logs", s.logs_days, self._logs))
        for _kind, days, step in steps:
            cut = self.cutoff(days)
            if cut is not None:
                await step(cut, report, dry_run, progress or (lambda _k, _n: None))
        report.seconds = loop.time() - t0
        async with self.sessions() as db, db.begin():
            db.add(RetentionRun(started_at=started, finished_at=self.clock(), dry_run=dry_run,
                                counts=report.summary(), instance=self.instance[:200]))
        log.info("retention %s: rows %s, files %d in %.1fs", "dry run" if dry_run else "run", report.rows,
                 report.files, report.seconds)
        return report

    async def _count(self, stmt) -> int:  # noqa: ANN001
        async with self.sessions() as db:
            return int((await db.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())

    async def _recordings(self, cut: datetime, report: RetentionReport, dry: bool, progress: Progress) -> None:
        old = select(Recording.id).where(Recording.created_at < cut, Recording.path != "")
        if dry:
            report.rows["recordings"] = await self._count(old)
            return
        last = 0  # keyset: each batch starts after the last id, never re-reading what is done
        while True:
            async with self.sessions() as db, db.begin():
                rows = (await db.execute(select(Recording.id, Recording.call_id, Recording.path)
                                         .where(Recording.id > last, Recording.created_at < cut, Recording.path != "")
                                         .order_by(Recording.id).limit(self.settings.batch))).all()
                if not rows:
                    break
                last = rows[-1].id
                call_ids = sorted({r.call_id for r in rows})
                calls = (await db.execute(select(Call.recording_path).where(
                    Call.id.in_(call_ids), Call.recording_path.is_not(None)))).scalars().all()
                paths = await asyncio.to_thread(self._files, {r.path for r in rows} | {c for c in calls if c})
                await db.execute(update(Recording).where(Recording.id.in_([r.id for r in rows])).values(path=""))
                await db.execute(update(Call).where(Call.id.in_(call_ids)).values(recording_path=None))
            report.files += await asyncio.to_thread(remove, paths)  # after the commit: no row names a lost file
            report.rows["recordings"] += len(rows)
            progress("recordings", report.rows["recordings"])

    def _files(self, stored: set[str]) -> list[Path]:
        found = {self.roots.recording(p) for p in stored if p}
        return [p for p in found if p is not None]

    async def _transcripts(self, cut: datetime, report: RetentionReport, dry: bool, progress: Progress) -> None:
        cond = (Transcript.created_at < cut, Transcript.text != "")
        if dry:
            report.rows["transcripts"] = await self._count(select(Transcript.id).where(*cond))
            return
        last = 0
        while True:
            async with self.sessions() as db, db.begin():
                ids = list((await db.execute(select(Transcript.id).where(Transcript.id > last, *cond)
                                             .order_by(Transcript.id).limit(self.settings.batch))).scalars())
                if not ids:
                    break
                last = ids[-1]
                await db.execute(update(Transcript).where(Transcript.id.in_(ids)).values(text="", words=[]))
                await db.execute(delete(SpeechWord).where(SpeechWord.transcript_id.in_(ids)))
                await db.execute(delete(SpeechDocument).where(SpeechDocument.transcript_id.in_(ids)))
            report.rows["transcripts"] += len(ids)
            progress("transcripts", report.rows["transcripts"])

    async def _messages(self, cut: datetime, report: RetentionReport, dry: bool, progress: Progress) -> None:
        cond = (Message.created_at < cut, or_(Message.body != "", Message.subject.is_not(None)))
        if dry:
            report.rows["messages"] = await self._count(select(Message.id).where(*cond))
            return
        last = 0
        while True:
            async with self.sessions() as db, db.begin():
                rows = (await db.execute(select(Message.id, Message.meta).where(Message.id > last, *cond)
                                         .order_by(Message.id).limit(self.settings.batch))).all()
                if not rows:
                    break
                last = rows[-1].id
                paths = attachment_files(self.roots, [r.meta for r in rows])
                await db.execute(update(Message).where(Message.id.in_([r.id for r in rows]))
                                 .values(body="", subject=None, meta={}))
            report.files += await asyncio.to_thread(remove, paths)
            report.rows["messages"] += len(rows)
            progress("messages", report.rows["messages"])

    async def _inquiries(self, cut: datetime, report: RetentionReport, dry: bool, progress: Progress) -> None:
        cond = (Inquiry.closed_at.is_not(None), Inquiry.closed_at < cut,
                or_(Inquiry.subject.is_(None), Inquiry.subject != ""))
        if dry:
            report.rows["closed_inquiries"] = await self._count(select(Inquiry.id).where(*cond))
            return
        last = 0
        while True:
            async with self.sessions() as db, db.begin():
                ids = list((await db.execute(select(Inquiry.id).where(Inquiry.id > last, *cond).order_by(Inquiry.id)
                                             .limit(self.settings.batch))).scalars())
                if not ids:
                    break
                last = ids[-1]
                await db.execute(update(Inquiry).where(Inquiry.id.in_(ids)).values(subject=""))
                await db.execute(update(InquiryEvent).where(InquiryEvent.inquiry_id.in_(ids)).values(note=None))
                await db.execute(update(TimelineEntry).where(TimelineEntry.inquiry_id.in_(ids)).values(summary=""))
            report.rows["closed_inquiries"] += len(ids)
            progress("closed_inquiries", report.rows["closed_inquiries"])

    async def _sessions(self, cut: datetime, report: RetentionReport, dry: bool, progress: Progress) -> None:
        for model in (WebSession, SelfServiceSession):
            old = select(model.id_hash).where(model.expires_at < cut)
            if dry:
                report.rows["web_sessions"] += await self._count(old)
                continue
            while True:
                async with self.sessions() as db, db.begin():
                    keys = list((await db.execute(old.limit(self.settings.batch))).scalars())
                    if not keys:
                        break
                    await db.execute(delete(model).where(model.id_hash.in_(keys)))
                report.rows["web_sessions"] += len(keys)
        progress("web_sessions", report.rows["web_sessions"])

    async def _logs(self, cut: datetime, report: RetentionReport, dry: bool, progress: Progress) -> None:
        old = select(AccessLogEntry.id).where(AccessLogEntry.at < cut)
        if dry:
            report.rows["logs"] = await self._count(old)
            return
        while True:
            async with self.sessions() as db, db.begin():
                ids = list((await db.execute(old.order_by(AccessLogEntry.id).limit(self.settings.batch))).scalars())
                if not ids:
                    break
                await db.execute(delete(AccessLogEntry).where(AccessLogEntry.id.in_(ids)))
            report.rows["logs"] += len(ids)
            progress("logs", report.rows["logs"])


def attachment_files(roots: FileRoots, metas: list[dict | None]) -> list[Path]:
    out = []
    for meta in metas:
        for ref in (meta or {}).get("attachments") or []:
            path = roots.attachment(ref)
            if path is not None:
                out.append(path)
    return out
