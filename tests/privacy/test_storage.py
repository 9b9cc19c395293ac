"""On both databases: greetings only to clients who agreed to marketing, the retention job with its files,
the export's contents, and erasure that leaves every report's figures as they were."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crm_core.access import actor_for
from crm_core.models import (
    Call,
    Client,
    Contact,
    Inquiry,
    MemorableDate,
    Message,
    Recording,
    Transcript,
    WebSession,
)
from crm_core.models.notifications import DateReminder, NoticeDelivery
from crm_core.models.privacy import AccessLogEntry, ClientConsent, RetentionRun
from notifications.dates import DateScheduler
from notifications.notifier import Notifier
from privacy import queries
from privacy.erasure import ERASED_NAME, delete_files, erase_client
from privacy.export import collect, write_zip
from privacy.files import FileRoots
from privacy.retention import Retention
from privacy.settings import RetentionSettings
from reports import queries as report_queries
from reports.filters import ReportFilter
from reports.settings import ReportSettings
from routing.calendar import WorkCalendar
from tests.reports.world import seed_world
from tests.web.conftest import seed_agency

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # a Wednesday, working time in Moscow


async def _publish(_event) -> None:  # noqa: ANN001
    return None


async def test_greetings_go_only_to_clients_who_agreed_to_marketing(db):  # noqa: ANN001
    async with db.sessions() as s, s.begin():
        agreed, silent, withdrew = Client(name="Согласна"), Client(name="Молчит"), Client(name="Отозвал")
        s.add_all([agreed, silent, withdrew])
        await s.flush()
        for n, c in enumerate((agreed, silent, withdrew)):
            s.add(Contact(client_id=c.id, kind="email", value=f"c{n}@example.ru"))
            d = MemorableDate(client_id=c.id, kind="birthday", on=date(1980, 6, 10), month=6, day=10)
            s.add(d)
            await s.flush()
            s.add(DateReminder(date_id=d.id, lead_days=0, repeat_yearly=True, greet_by="email"))
        await queries.record_consents(s, agreed.id, {"marketing": True}, source="webform", source_ref="site.ru")
        await queries.record_consents(s, withdrew.id, {"marketing": True}, source="import",
                                      at=NOW - timedelta(days=30))
        await queries.record_consents(s, withdrew.id, {"marketing": False}, source="agent", actor_id=None)
    notifier = Notifier(db.sessions, _publish, clock=lambda: NOW)
    scheduler = DateScheduler(notifier, WorkCalendar(None), may_greet=lambda s, cid: queries.has_consent(
        s, cid, "marketing"))
    _, greeted = await scheduler.run_once()
    async with db.sessions() as s:
        sent_to = (await s.execute(select(NoticeDelivery.to).where(NoticeDelivery.source.startswith("greeting:"))
                                   )).scalars().all()
    assert greeted == 1 and sent_to == ["c0@example.ru"], "only the client who agreed (and did not withdraw)"


def _roots(tmp_path: Path) -> FileRoots:
    (tmp_path / "rec").mkdir(exist_ok=True)
    return FileRoots(tmp_path / "var", (tmp_path / "rec",))


async def test_the_retention_job_clears_what_is_past_its_period_and_keeps_the_counts(db, tmp_path):  # noqa: ANN001
    roots = _roots(tmp_path)
    old, fresh = NOW - timedelta(days=400), NOW - timedelta(days=10)
    async with db.sessions() as s, s.begin():
        c = Client(name="Пётр")
        s.add(c)
        await s.flush()
        inq = Inquiry(client_id=c.id, channel="call", external_id="x1", subject="Квартира", created_at=old,
                      closed_at=NOW - timedelta(days=1200))
        s.add(inq)
        await s.flush()
        for n, when in enumerate((old, old, fresh)):
            (tmp_path / "rec" / f"r{n}.wav").write_bytes(b"RIFF....")
            call = Call(uniqueid=f"u{n}", direction="inbound", caller="+79160000001", client_id=c.id,
                        started_at=when, recording_path=f"r{n}.wav", created_at=when)
            s.add(call)
            await s.flush()
            rec = Recording(call_id=call.id, path=f"r{n}.wav", duration_s=30.0, created_at=when)
            s.add(rec)
            await s.flush()
            s.add(Transcript(recording_id=rec.id, status="done", text="добрый день", created_at=when))
        s.add(Message(inquiry_id=inq.id, client_id=c.id, channel="call", external_id="m1", body="текст",
                      created_at=NOW - timedelta(days=1200)))
        s.add(WebSession(id_hash="a" * 64, csrf_token="x", expires_at=NOW - timedelta(days=40)))
        s.add(WebSession(id_hash="b" * 64, csrf_token="x", expires_at=NOW + timedelta(days=1)))
        s.add(AccessLogEntry(at=NOW - timedelta(days=2000), user_id=1, kind="card", client_id=c.id))
    retention = Retention(db.sessions, RetentionSettings(batch=10), roots, clock=lambda: NOW)
    dry = await retention.run(dry_run=True)
    assert dry.rows["recordings"] == 2 and (tmp_path / "rec" / "r0.wav").exists(), "a dry run changes nothing"
    report = await retention.run()
    assert report.rows == {"recordings": 2, "transcripts": 2, "messages": 1, "closed_inquiries": 1,
                           "web_sessions": 1, "logs": 1}
    assert report.files == 2
    assert not (tmp_path / "rec" / "r0.wav").exists() and (tmp_path / "rec" / "r2.wav").exists()
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Call))).scalar() == 3, "calls stay for reports"
        paths = (await s.execute(select(Recording.path).order_by(Recording.id))).scalars().all()
        assert paths == ["", "", "r2.wav"]
        texts = (await s.execute(select(Transcript.text).order_by(Transcript.id))).scalars().all()
        assert texts == ["", "", "добрый день"]
        assert (await s.execute(select(Message.body))).scalar() == ""
        assert (await s.execute(select(Inquiry.subject))).scalar() == ""
        assert (await s.execute(select(func.count()).select_from(WebSession))).scalar() == 1
        runs = (await s.execute(select(RetentionRun.dry_run).order_by(RetentionRun.id))).scalars().all()
        assert runs == [True, False], "each run is recorded with what it did"
    again = await retention.run()
    assert sum(again.rows.values()) == 0, "a second run finds nothing left"


async def test_a_clients_export_holds_every_section_and_the_recordings(db, tmp_path):  # noqa: ANN001
    roots = _roots(tmp_path)
    async with db.sessions() as s, s.begin():
        c = Client(name="Ирина")
        s.add(c)
        await s.flush()
        s.add(Contact(client_id=c.id, kind="phone", value="+79161112233"))
        inq = Inquiry(client_id=c.id, channel="call", external_id="e1", subject="Дом")
        s.add(inq)
        await s.flush()
        s.add(Message(inquiry_id=inq.id, client_id=c.id, channel="call", external_id="em1", body="Хочу дом"))
        (tmp_path / "rec" / "e.wav").write_bytes(b"RIFFdata")
        call = Call(uniqueid="e-1", direction="inbound", caller="+79161112233", client_id=c.id)
        s.add(call)
        await s.flush()
        rec = Recording(call_id=call.id, path="e.wav")
        s.add(rec)
        await s.flush()
        s.add(Transcript(recording_id=rec.id, status="done", text="хочу дом у леса"))
        await queries.record_consents(s, c.id, {"processing": True}, source="webform")
        s.add(AccessLogEntry(at=NOW, user_id=1, kind="card", client_id=c.id))
        client_id = c.id
    async with db.sessions() as s:
        data = await collect(s, roots, client_id)
    progress: list[tuple[int, int]] = []
    path = write_zip(data, tmp_path / "out" / "c.zip", lambda d, t: progress.append((d, t)))
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        everything = json.loads(zf.read("data.json"))
        audio = zf.read(next(n for n in names if n.startswith("recordings/")))
    assert {"data.json", "client.json", "contacts.json", "messages.json", "calls.json", "transcripts.json",
            "consents.json", "access_log.json", "tasks.json", "deals.json"} <= names
    assert everything["client"][0]["name"] == "Ирина" and everything["contacts"][0]["value"] == "+79161112233"
    assert everything["transcripts"][0]["text"] == "хочу дом у леса" and audio == b"RIFFdata"
    assert everything["consents"][0]["purpose"] == "processing" and len(everything["access_log"]) == 1
    assert progress[-1][0] == progress[-1][1], "the progress reaches its end"
    assert not list((tmp_path / "out").glob("*.part")), "no half file is left"


async def _figures(db, agency) -> dict:  # noqa: ANN001
    week = ReportFilter(date(2026, 3, 2), date(2026, 3, 8), ZoneInfo("Europe/Moscow"))
    out = {}
    async with db.sessions() as s:
        actor = await actor_for(s, agency.users["root"])
        for name in report_queries.REPORTS:
            r = await report_queries.run(name, s, actor, week, ReportSettings())
            numbers = sorted(tuple(v for v in row if isinstance(v, int | float) and not isinstance(v, bool))
                             for row in r.rows)
            out[name] = (len(r.rows), numbers, r.totals)
    return out


async def test_erasure_leaves_every_reports_figures_unchanged_and_removes_the_person(db, tmp_path):  # noqa: ANN001
    agency = await seed_agency(SimpleNamespace(database=SimpleNamespace(sessions=db.sessions)))
    await seed_world(db.sessions, agency)
    roots = _roots(tmp_path)
    async with db.sessions() as s, s.begin():
        owned = (await s.execute(select(Client).where(Client.name == "Анна клиент"))).scalar_one()
        nobody_id = (await s.execute(select(Call.client_id).where(Call.caller == "+79160000002"))).scalars().first()
        s.add(Contact(client_id=owned.id, kind="phone", value="+79160000001"))
        s.add(Contact(client_id=nobody_id, kind="phone", value="+79160000002"))
        call_id = (await s.execute(select(Call.id).where(Call.client_id == owned.id))).scalars().first()
        (tmp_path / "rec" / "w.wav").write_bytes(b"RIFF")
        s.add(Recording(call_id=call_id, path="w.wav"))
        owned_id = owned.id
    before = await _figures(db, agency)
    for client_id in (owned_id, nobody_id):
        async with db.sessions() as s:
            async with s.begin():
                await erase_client(s, roots, client_id, actor_id=agency.users["root"], reason="запрос №1")
            await delete_files(s)
    after = await _figures(db, agency)
    assert after == before, "every report counts the same after erasure"
    async with db.sessions() as s:
        client = await s.get(Client, owned_id)
        assert client is not None and client.name == ERASED_NAME
        assert (await s.execute(select(func.count()).select_from(Contact).where(Contact.client_id == owned_id))
                ).scalar() == 0
        callers = set((await s.execute(select(Call.caller))).scalars())
        assert "+79160000001" not in callers and "+79160000002" not in callers
    assert not (tmp_path / "rec" / "w.wav").exists(), "the recording's file is deleted"


async def test_an_import_column_records_each_clients_consent(db):  # noqa: ANN001
    from crm_core.importer import import_clients
    from crm_core.models.privacy import ClientConsent

    data = ("Телефон;ФИО;Согласие на рассылку;Согласие на обработку ПД\n"
            "+79161110001;Иван;да;да\n+79161110002;Пётр;нет;да\n+79161110003;Олег;;\n").encode()
    report = await import_clients(db.sessions, data, "база.csv")
    assert not report.errors
    async with db.sessions() as s:
        rows = (await s.execute(select(Contact.value, ClientConsent.purpose, ClientConsent.granted,
                                       ClientConsent.source)
                                .join(ClientConsent, ClientConsent.client_id == Contact.client_id)
                                .order_by(Contact.value, ClientConsent.purpose))).all()
        marketing = {v: await queries.has_consent(s, cid, "marketing") for v, cid in (await s.execute(
            select(Contact.value, Contact.client_id))).all()}
    assert [tuple(r) for r in rows] == [
        ("+79161110001", "marketing", True, "import"), ("+79161110001", "processing", True, "import"),
        ("+79161110002", "marketing", False, "import"), ("+79161110002", "processing", True, "import")]
    assert marketing == {"+79161110001": True, "+79161110002": False, "+79161110003": False}


async def test_the_bots_buttons_record_the_marketing_consent(db):  # noqa: ANN001
    from channels.telegram.service import TelegramService
    from connectors.telegram.events import TelegramInbound

    async with db.sessions() as s, s.begin():
        c = Client(name="Вера")
        s.add(c)
        await s.flush()
        s.add(Contact(client_id=c.id, kind="telegram", value="555"))
        client_id = c.id
    bot = TelegramService(db.sessions, None)  # type: ignore[arg-type] - the commands never reach the intake

    async def consent(telegram_id: str, granted: bool) -> bool:
        async with db.sessions() as s, s.begin():
            return await queries.bot_consent(s, telegram_id, granted)

    bot.consent = consent
    said = await bot.handle(TelegramInbound(1, "text", 555, 555, "Вера", 10, "/agree"))
    async with db.sessions() as s:
        assert await queries.has_consent(s, client_id, "marketing") and "/stop" in said[0].text
    await bot.handle(TelegramInbound(2, "text", 555, 555, "Вера", 11, "/stop"))
    unknown = await bot.handle(TelegramInbound(3, "text", 777, 777, "Кто-то", 12, "/agree"))
    async with db.sessions() as s:
        assert not await queries.has_consent(s, client_id, "marketing"), "/stop withdraws it"
        sources = (await s.execute(select(ClientConsent.source))).scalars().all()
    assert sources == ["bot", "bot"] and unknown[0].ask_contact, "an unknown chat is asked who it is"
