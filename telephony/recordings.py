"""Calls with their recordings and transcripts, for the places that show them in place: the inquiry page,
the client's timeline, the calls list. Each read goes through ``crm_core.access``: the inquiry or the client
must be within reach, and of their calls only those in ``call_scope`` are shown (an agent their own calls,
a department's manager or head its people's, and so on). The audio itself is served by the speech pages
(``/calls/{id}/recordings/{rec}``, with HTTP Range), which check the same scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import Actor, call_scope
from crm_core.models import Call, Recording, Transcript, User
from crm_core.models.speech import SpeechWord

MAX_CALLS = 50
MAX_WORDS = 5000  # of one transcript, drawn on a page


@dataclass(slots=True)
class CallAudio:
    call_id: int
    started_at: datetime | None
    direction: str
    outcome: str | None
    agent_name: str | None
    talk_s: float | None
    recordings: list[dict] = field(default_factory=list)

    def as_json(self, zone: str = "Europe/Moscow") -> dict:
        """``at``: when the call began, in the agency's time and the pages' form (dd.mm.yyyy hh:mm)."""
        at = self.started_at.astimezone(ZoneInfo(zone)).strftime("%d.%m.%Y %H:%M") if self.started_at else None
        return {"call_id": self.call_id, "started_at": self.started_at.isoformat() if self.started_at else None,
                "at": at,
                "direction": self.direction, "outcome": self.outcome, "agent": self.agent_name,
                "talk_s": self.talk_s, "href": f"/calls/{self.call_id}/transcript", "recordings": self.recordings}


async def calls_with_audio(session: AsyncSession, actor: Actor, *, inquiry_id: int | None = None,
                           client_id: int | None = None, words: bool = False) -> list[CallAudio]:
    """The calls of an inquiry (or a client) within the actor's reach, newest first, with their recordings;
    ``words``: each transcript's words with their times (for clicking a word to play from there)."""
    stmt = (select(Call.id, Call.started_at, Call.direction, Call.outcome, User.full_name, Call.talk_s)
            .outerjoin(User, User.id == Call.agent_id).where(call_scope(actor))
            .order_by(Call.started_at.desc(), Call.id.desc()).limit(MAX_CALLS))
    if inquiry_id is not None:
        stmt = stmt.where(Call.inquiry_id == inquiry_id)
    if client_id is not None:
        stmt = stmt.where(Call.client_id == client_id)
    calls = {row[0]: CallAudio(*row) for row in await session.execute(stmt)}
    if not calls:
        return []
    rows = await session.execute(
        select(Recording.id, Recording.call_id, Transcript.id, Transcript.status)
        .outerjoin(Transcript, Transcript.recording_id == Recording.id)
        .where(Recording.call_id.in_(calls)).order_by(Recording.id, Transcript.id))
    by_recording: dict[int, dict] = {}
    for rec_id, call_id, transcript_id, status in rows:
        entry = by_recording.get(rec_id)
        if entry is None:
            entry = by_recording[rec_id] = {"id": rec_id, "src": f"/calls/{call_id}/recordings/{rec_id}",
                                            "transcript": None, "_tid": None}
            calls[call_id].recordings.append(entry)
        if transcript_id is not None:  # the latest transcript of the recording wins
            entry["transcript"], entry["_tid"] = {"status": status, "words": []}, transcript_id
    if words:
        await _add_words(session, [e for e in by_recording.values() if e["_tid"] is not None])
    for entry in by_recording.values():
        entry.pop("_tid")
    return list(calls.values())


async def _add_words(session: AsyncSession, entries: Iterable[dict]) -> None:
    for entry in entries:
        found = await session.execute(
            select(SpeechWord.word, SpeechWord.start_s, SpeechWord.speaker)
            .where(SpeechWord.transcript_id == entry["_tid"]).order_by(SpeechWord.position).limit(MAX_WORDS))
        entry["transcript"]["words"] = [{"w": w, "t": round(t, 2), "s": sp} for w, t, sp in found]


async def recorded_call_ids(session: AsyncSession, call_ids: Iterable[int]) -> set[int]:
    """Which of these calls (already read within reach) have a recording: the calls list links to them."""
    ids = list(call_ids)
    if not ids:
        return set()
    return set((await session.execute(select(Recording.call_id).where(Recording.call_id.in_(ids)).distinct()))
               .scalars())
