import asyncio

from sqlalchemy import func, select

from bus.events import InquiryOpened, MessageReceived
from crm_core.intake import IntakeRequest, IntakeService
from crm_core.models import Channel, Client, Contact, Inquiry, InquiryEvent, Message, TimelineEntry


def form(external_id: str, **kw) -> IntakeRequest:
    base = dict(channel=Channel.WEBFORM, external_id=external_id, text="Хочу купить квартиру", name="Анна")
    base.update(kw)
    return IntakeRequest(**base)


async def count(db, model) -> int:
    async with db.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_all_russian_phone_formats_are_one_client(db, bus):
    intake = IntakeService(db.sessions, bus)
    formats = ["8 916 123-45-67", "+7 (916) 123 45 67", "79161234567", "9161234567"]
    results = [await intake.accept(form(f"f{i}", phone=p)) for i, p in enumerate(formats)]
    assert len({r.client_id for r in results}) == 1
    assert [r.new_client for r in results] == [True, False, False, False]
    async with db.sessions() as s:
        phones = (await s.execute(select(Contact.value))).scalars().all()
    assert phones == ["+79161234567"]


async def test_same_form_sent_twice_is_one_inquiry(db, bus):
    seen = []
    bus.subscribe(InquiryOpened, lambda e: _append(seen, e))
    intake = IntakeService(db.sessions, bus)
    first = await intake.accept(form("key-1", phone="89161234567"))
    second = await intake.accept(form("key-1", phone="89161234567"))
    assert second.duplicate and second.inquiry_id == first.inquiry_id
    assert await count(db, Inquiry) == 1 and await count(db, Message) == 1
    assert len(seen) == 1


async def test_the_same_event_from_two_tasks_at_once_gives_one_record(db, bus):
    intake = IntakeService(db.sessions, bus)
    results = await asyncio.gather(*(intake.accept(form("race-1", phone="+79031112233")) for _ in range(8)))
    assert len({r.inquiry_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert await count(db, Inquiry) == 1 and await count(db, Message) == 1 and await count(db, Client) == 1


async def test_two_new_messages_from_one_unknown_number_at_once_make_one_client(db, bus):
    intake = IntakeService(db.sessions, bus)
    results = await asyncio.gather(*(intake.accept(form(f"m{i}", phone="+79035550101")) for i in range(6)))
    assert len({r.client_id for r in results}) == 1
    assert await count(db, Client) == 1 and await count(db, Inquiry) == 6


async def test_reply_joins_the_thread_of_the_same_client_only(db, bus):
    intake = IntakeService(db.sessions, bus)
    email = dict(channel=Channel.EMAIL, subject="Квартира на Тверской")
    first = await intake.accept(IntakeRequest(external_id="<a@x>", email="Ivan@Mail.ru", text="Здравствуйте", **email))
    reply = await intake.accept(IntakeRequest(external_id="<b@x>", email="ivan@mail.ru", reply_to=["<a@x>"],
                                              text="Ещё вопрос", **email))
    forged = await intake.accept(IntakeRequest(external_id="<c@x>", email="mallory@evil.ru", reply_to=["<a@x>"],
                                               text="Подмена", **email))
    assert reply.inquiry_id == first.inquiry_id and not reply.new_inquiry
    assert forged.inquiry_id != first.inquiry_id and forged.new_inquiry


async def test_intake_records_source_notes_and_timeline(db, bus):
    events = []
    bus.subscribe(MessageReceived, lambda e: _append(events, e))
    intake = IntakeService(db.sessions, bus)
    res = await intake.accept(form("utm-1", phone="+79161234567", source="avito", did="74950000001",
                                   utm={"utm_source": "yandex", "utm_campaign": "spring"},
                                   notes=["charset declared koi8-r but body is utf-8"]))
    async with db.sessions() as s:
        inquiry = await s.get(Inquiry, res.inquiry_id)
        notes = (await s.execute(select(InquiryEvent.note).where(InquiryEvent.kind == "intake_note"))).scalars().all()
        kinds = (await s.execute(select(TimelineEntry.kind).where(TimelineEntry.client_id == res.client_id)
                                 .order_by(TimelineEntry.id))).scalars().all()
    assert (inquiry.source, inquiry.did, inquiry.utm["utm_campaign"]) == ("avito", "74950000001", "spring")
    assert notes == ["charset declared koi8-r but body is utf-8"]
    assert kinds == ["client_created", "inquiry_opened", "message_in"]
    assert [e.message_id for e in events] == [res.message_id]


async def test_a_failing_subscriber_does_not_stop_the_others_nor_lose_the_inquiry(db, bus):
    got = []

    async def broken(_e):
        raise RuntimeError("notifier down")

    bus.subscribe(InquiryOpened, broken)
    bus.subscribe(InquiryOpened, lambda e: _append(got, e))
    res = await IntakeService(db.sessions, bus).accept(form("x1", phone="+79161234567"))
    assert got and got[0].inquiry_id == res.inquiry_id
    assert bus.failures == 1 and await count(db, Inquiry) == 1


async def _append(target, item):
    target.append(item)


async def test_forms_arriving_together_share_commits_and_each_is_stored_once(db, bus):
    """Group commit: 60 forms at once (two of them the same key, two the same new phone) → few commits,
    every form stored exactly once, the same key answered as a duplicate of the same inquiry."""
    intake = IntakeService(db.sessions, bus)
    reqs = [form(f"g{i}", phone=f"+7916000{i:04d}") for i in range(56)]
    reqs += [form("g0", phone="+79160000000"), form("twin-a", phone="+79165550000"),
             form("twin-b", phone="+79165550000"), form("g57", phone="+79160000057")]
    results = await asyncio.gather(*(intake.accept(r) for r in reqs))
    assert intake._group.commits < len(reqs) / 4
    assert await count(db, Message) == 59 and await count(db, Inquiry) == 59
    assert results[56].inquiry_id == results[0].inquiry_id and (results[0].duplicate or results[56].duplicate)
    assert results[57].client_id == results[58].client_id and await count(db, Client) == 58


async def test_a_request_that_fails_inside_a_shared_commit_loses_nobody_elses(db, bus):
    intake = IntakeService(db.sessions, bus)
    good = [form(f"ok{i}", phone=f"+7916111{i:04d}") for i in range(10)]
    bad = form("bad", phone="+79162220000", name="x" * 10)

    real = intake._contact_keys

    def contact_keys(req):
        if req.external_id == "bad":
            raise RuntimeError("a bug while storing this one")
        return real(req)

    intake._contact_keys = contact_keys  # the group fails as a whole, then each request alone: only "bad" fails
    results = await asyncio.gather(*(intake.accept(r) for r in [*good[:5], bad, *good[5:]]),
                                   return_exceptions=True)
    assert isinstance(results[5], RuntimeError)
    assert all(not isinstance(r, BaseException) for i, r in enumerate(results) if i != 5)
    assert await count(db, Message) == 10
    async with db.sessions() as s:
        assert not (await s.execute(select(Message).where(Message.external_id == "bad"))).first()


async def test_a_group_of_new_threads_keeps_what_one_at_a_time_would(db, bus):
    """The grouped store (one statement per table for the whole group) gives what the request-by-request
    store gives: a known client keeps their inquiries and learns a new email, their owner's department
    follows, two forms with one new email make one client, notes become history, moderation and an
    answered call's agent are kept."""
    from crm_core.models import Department, User

    async with db.sessions() as s, s.begin():
        dept = Department(name="Продажи")
        s.add(dept)
        await s.flush()
        owner = User(login="oleg", password_hash="!", full_name="Олег", role="agent", department_id=dept.id)
        s.add(owner)
        await s.flush()
        known = Client(name="Иван", owner_id=owner.id)
        s.add(known)
        await s.flush()
        s.add(Contact(client_id=known.id, kind="phone", value="+79161110000"))
        dept_id, owner_id, known_id = dept.id, owner.id, known.id
    intake = IntakeService(db.sessions, bus)
    intake.moderation_gate = lambda req: req.source == "spam-site"
    reqs = [form("k1", phone="89161110000", email="Ivan@Mail.ru"),
            form("n1", email="new@mail.ru", name="Новая"), form("n2", email="new@mail.ru", name="Та же"),
            form("note", phone="+79162223344", notes=("кодировка не указана",)),
            form("mod", phone="+79163334455", source="spam-site"),
            form("call", phone="+79164445566", channel=Channel.CALL, taken_by=owner_id)]
    results = await asyncio.gather(*(intake.accept(r) for r in reqs))
    assert intake._group.largest > 1  # noqa: SLF001 - they really went together
    k1, n1, n2, note, mod, call = results
    assert k1.client_id == known_id and not k1.new_client
    assert n1.client_id == n2.client_id and [n1.new_client, n2.new_client].count(True) == 1
    async with db.sessions() as s:
        emails = (await s.execute(select(Contact.client_id).where(Contact.value == "ivan@mail.ru"))).scalars().all()
        assert emails == [known_id]
        inquiries = {i.id: i for i in (await s.execute(select(Inquiry))).scalars()}
        assert inquiries[k1.inquiry_id].department_id == dept_id  # the owner's department
        assert inquiries[mod.inquiry_id].status == "moderation"
        call_inquiry = inquiries[call.inquiry_id]
        assert (call_inquiry.owner_id, call_inquiry.status, call_inquiry.department_id) == (owner_id, "in_work",
                                                                                          dept_id)
        notes = (await s.execute(select(InquiryEvent.note).where(InquiryEvent.inquiry_id == note.inquiry_id,
                                                                 InquiryEvent.kind == "intake_note"))).scalars()
        assert list(notes) == ["кодировка не указана"]
        lines = (await s.execute(select(TimelineEntry.kind).where(TimelineEntry.client_id == n1.client_id)
                                 .order_by(TimelineEntry.id))).scalars().all()
        assert lines == ["client_created", "inquiry_opened", "message_in", "inquiry_opened", "message_in"]
        assert await count(db, Client) == 5 and await count(db, Message) == 6


async def test_a_bigger_group_of_new_forms_costs_no_more_statements(db, bus):
    """New threads are stored with a fixed number of statements per group, on both databases: SQLAlchemy
    would insert row by row where an ordered RETURNING cannot be batched (SQLite), so a group of 64 forms
    took some 300 statements. The ids handed back still match each request."""
    from sqlalchemy import event

    intake = IntakeService(db.sessions, bus)
    seen: list[str] = []

    def count_statement(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001, ARG001
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count_statement)
    try:
        per_group = []
        for size, tag in ((3, "small"), (30, "big")):
            seen.clear()
            reqs = [form(f"{tag}{i}", phone=f"+7917{size:03d}{i:04d}", name=f"{tag} {i}") for i in range(size)]
            results = await intake._store_batch(reqs)  # noqa: SLF001 - one group, as the group commit makes it
            per_group.append(len(seen))
            async with db.sessions() as s:
                for req, r in zip(reqs, results, strict=True):
                    message = await s.get(Message, r.message_id)
                    client = await s.get(Client, r.client_id)
                    assert message.external_id == req.external_id and message.inquiry_id == r.inquiry_id
                    assert client.name == req.name and (await s.get(Inquiry, r.inquiry_id)).client_id == client.id
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count_statement)
    assert per_group[0] == per_group[1], per_group
