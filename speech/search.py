"""Full-text search over transcripts: SQLite FTS5 or PostgreSQL ``tsvector`` with the 'russian' configuration.

PostgreSQL keeps the vector in ``speech_documents.tsv`` (GIN index) and stems with its Russian dictionary.
SQLite keeps an FTS5 table in a file beside the database (``<db>-speech-fts``), attached to every connection
as schema ``speech_fts``: FTS5 adds shadow tables that Alembic's model comparison would take for strays, and
the index is derived data — ``reindex_missing`` rebuilds it from ``speech_documents`` whenever it is behind.
Russian word forms on SQLite: each query word is cut to its Snowball stem and matched as a prefix.

Hits carry an HTML snippet with the matches in ``<mark>``; the transcript text in it is escaped first.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy import column, event, func, literal_column, select, table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from crm_core.access import Actor, call_scope
from crm_core.models import Call, User
from crm_core.models.speech import SpeechDocument
from speech.analytics import stem, tokens

START, STOP = "\x02", "\x03"
_INSTALLED: weakref.WeakSet = weakref.WeakSet()  # engines whose connections get the FTS file attached


def fts_file(engine: AsyncEngine) -> str:
    db = engine.url.database
    return ":memory:" if not db or db == ":memory:" else db + "-speech-fts"


def install(engine: AsyncEngine) -> None:
    """Attach the FTS5 file to every SQLite connection this engine hands out (no-op on PostgreSQL)."""
    if engine.dialect.name != "sqlite" or engine.sync_engine in _INSTALLED:
        return
    _INSTALLED.add(engine.sync_engine)
    path = fts_file(engine)

    @event.listens_for(engine.sync_engine, "checkout")
    def _attach(dbapi_conn, record, _proxy):  # noqa: ANN001, ANN202
        if record.info.get("speech_fts"):
            return
        cur = dbapi_conn.cursor()
        cur.execute("ATTACH DATABASE ? AS speech_fts", (path,))
        cur.execute("PRAGMA speech_fts.journal_mode=WAL")
        cur.execute("CREATE VIRTUAL TABLE IF NOT EXISTS speech_fts.docs USING fts5(body, "
                    "tokenize = 'unicode61 remove_diacritics 2')")
        cur.close()
        record.info["speech_fts"] = True


def _clean(body: str) -> str:
    return body.replace(START, " ").replace(STOP, " ")


async def index_document(session: AsyncSession, transcript_id: int, call_id: int, body: str) -> None:
    """Make a transcript searchable (again): in the caller's transaction."""
    body = _clean(body)
    dialect = session.bind.dialect.name
    values = {"transcript_id": transcript_id, "call_id": call_id, "body": body}
    if dialect == "postgresql":
        stmt = postgresql.insert(SpeechDocument).values(**values, tsv=func.to_tsvector("russian", body))
        stmt = stmt.on_conflict_do_update(index_elements=["transcript_id"], set_={
            "body": stmt.excluded.body, "tsv": stmt.excluded.tsv})
        await session.execute(stmt)
        return
    stmt = sqlite.insert(SpeechDocument).values(**values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["transcript_id"],
                                                     set_={"body": stmt.excluded.body}))
    await session.execute(text("DELETE FROM speech_fts.docs WHERE rowid = :id"), {"id": transcript_id})
    await session.execute(text("INSERT INTO speech_fts.docs(rowid, body) VALUES (:id, :body)"),
                          {"id": transcript_id, "body": body})


async def reindex_missing(session: AsyncSession) -> int:
    """SQLite: put every stored document the FTS file lacks back into it (after a lost or new file)."""
    if session.bind.dialect.name != "sqlite":
        return 0
    res = await session.execute(text(
        "INSERT INTO speech_fts.docs(rowid, body) SELECT transcript_id, body FROM speech_documents "
        "WHERE transcript_id NOT IN (SELECT rowid FROM speech_fts.docs)"))
    return res.rowcount or 0


def fts5_query(query: str) -> str | None:
    """User words → an FTS5 query: every word must occur, in any Russian form (stem as a prefix)."""
    parts = []
    for tok in tokens(query):
        s = stem(tok)
        parts.append(f'"{s}"*' if len(s) >= 3 else f'"{tok}"')
    return " ".join(parts) or None


@dataclass(frozen=True, slots=True)
class Hit:
    call_id: int
    transcript_id: int
    started_at: datetime | None
    agent_id: int | None
    agent_name: str | None
    caller: str | None
    queue: str | None
    snippet: Markup


def marked(snippet: str) -> Markup:
    """Escape the transcript text, then turn the search markers into <mark>."""
    return Markup(str(escape(snippet)).replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S704 - escaped first


async def search(session: AsyncSession, actor: Actor, query: str, *, agent_id: int | None = None,
                 queue: str | None = None, date_from: datetime | None = None, date_to: datetime | None = None,
                 limit: int = 50) -> list[Hit]:
    """Calls whose transcript has every word of ``query`` (in any form), newest first, within the actor's reach."""
    cols = [Call.id, SpeechDocument.transcript_id, Call.started_at, Call.agent_id, User.full_name, Call.caller,
            Call.queue]
    if session.bind.dialect.name == "postgresql":
        if not tokens(query):
            return []
        q = func.plainto_tsquery("russian", query)
        snippet = func.ts_headline("russian", SpeechDocument.body, q,
                                   f"StartSel={START}, StopSel={STOP}, MaxWords=18, MinWords=6, MaxFragments=2")
        stmt = select(*cols, snippet).select_from(SpeechDocument).where(SpeechDocument.tsv.op("@@")(q))
    else:
        match = fts5_query(query)
        if match is None:
            return []
        docs = table("docs", column("rowid"), schema="speech_fts")
        snippet = func.snippet(literal_column("docs"), 0, START, STOP, "…", 16)
        stmt = (select(*cols, snippet).select_from(docs)
                .join(SpeechDocument, SpeechDocument.transcript_id == docs.c.rowid)
                .where(literal_column("docs").op("MATCH")(match)))
    stmt = (stmt.join(Call, Call.id == SpeechDocument.call_id).outerjoin(User, User.id == Call.agent_id)
            .where(call_scope(actor)))
    if agent_id is not None:
        stmt = stmt.where(Call.agent_id == agent_id)
    if queue:
        stmt = stmt.where(Call.queue == queue)
    if date_from is not None:
        stmt = stmt.where(Call.started_at >= date_from)
    if date_to is not None:
        stmt = stmt.where(Call.started_at < date_to)
    rows = (await session.execute(stmt.order_by(Call.started_at.desc(), Call.id.desc()).limit(limit))).all()
    return [Hit(r[0], r[1], r[2], r[3], r[4], r[5], r[6], marked(r[7] or "")) for r in rows]


__all__ = ["Hit", "call_scope", "index_document", "install", "reindex_missing", "search"]
