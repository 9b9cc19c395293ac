"""Call scripts: the administrator's editor, the script for a call or an inquiry, the answers stored on the
inquiry and the client's timeline (at once, or when the call's inquiry opens), and who may do what."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from crm_core.intake import IntakeRequest
from crm_core.models import Call, Channel, Client, Inquiry, InquiryEvent, Role, TimelineEntry, utcnow
from crm_core.models.workflow import CallScript, ScriptRun
from tests.workflow.conftest import add_user
from workflow.scripts import ScriptError, format_steps, parse_steps, script_for

SCRIPT = """# start: Вы звоните по объявлению?
поля: Имя, Бюджет
- Да -> district
- Нет -> end

# district: Какой район интересует?
- Центр
- Другой -> end
"""
JSON = {"Accept": "application/json"}


async def _answers(b, body: dict, csrf: bool = True):  # noqa: ANN001, ANN202
    """What workflow.js sends: JSON with the page's CSRF token in the X-CSRF-Token header."""
    headers = {**JSON, **({"X-CSRF-Token": b.csrf} if csrf else {})}
    resp = await b.http.post(b.base + "/scripts/answers", json=body, headers=headers, allow_redirects=False)
    return resp, await resp.text()


def test_the_editor_text_is_steps_with_answers_leading_on():
    steps = parse_steps(SCRIPT)
    assert steps == [
        {"id": "start", "question": "Вы звоните по объявлению?", "fields": ["Имя", "Бюджет"],
         "answers": [{"text": "Да", "next": "district"}, {"text": "Нет", "next": None}]},
        {"id": "district", "question": "Какой район интересует?", "fields": [],
         "answers": [{"text": "Центр", "next": None}, {"text": "Другой", "next": None}]},
    ]
    assert parse_steps(format_steps(steps)) == steps
    with pytest.raises(ScriptError, match="unknown step «nowhere»"):
        parse_steps("# a: Вопрос?\n- Да -> nowhere")
    with pytest.raises(ScriptError, match="line 1"):
        parse_steps("- Да")


async def test_the_queue_script_wins_over_the_channel_script(db):
    async with db.sessions() as s, s.begin():
        s.add_all([CallScript(name="Звонки", channels=["call"], steps=parse_steps(SCRIPT)),
                   CallScript(name="Продажи", queues=["sales"], steps=parse_steps(SCRIPT)),
                   CallScript(name="Выключен", queues=["rent"], steps=parse_steps(SCRIPT), active=False)])
    async with db.sessions() as s:
        assert (await script_for(s, queue="sales", channel="call")).name == "Продажи"
        assert (await script_for(s, queue="rent", channel="call")).name == "Звонки"
        assert await script_for(s, queue=None, channel="email") is None


async def _call(running, linkedid: str, agent: str) -> None:  # noqa: ANN001
    async with running.hub.database.sessions() as s, s.begin():
        s.add(Call(uniqueid=f"u-{linkedid}", linkedid=linkedid, direction="inbound", caller="+79161234567",
                   agent_id=running.agency.users[agent], started_at=utcnow(), answered_at=utcnow(),
                   outcome="answered"))


async def _call_inquiry(running, linkedid: str) -> int:  # noqa: ANN001
    result = await running.hub.intake.accept(IntakeRequest(
        channel=Channel.CALL, external_id=linkedid, phone="+79161234567", name="Иван Петров", subject="Звонок"))
    return result.inquiry_id


async def test_answers_are_stored_on_the_call_inquiry_and_the_timeline(running):
    root = await running.browser("root")
    await root.get("/scripts")
    resp, page = await root.post("/scripts", {"name": "Плохой", "steps": "# a: Вопрос?\n- Да -> nowhere"})
    assert resp.status == 422 and "nowhere" in page
    resp, _ = await root.post("/scripts", {"name": "Входящий", "queues": "sales", "channel": "call", "steps": SCRIPT})
    assert resp.status == 303
    _, page = await root.get("/scripts")
    assert "Входящий" in page and "Продажи" in page  # the queue by its display name

    await _call(running, "1700000000.1", "anna")
    inquiry_id = await _call_inquiry(running, "1700000000.1")
    anna = await running.browser("anna")
    await anna.get("/calls")
    resp, body = await anna.get("/scripts/for-call/1700000000.1", headers=JSON)
    script = json.loads(body)["script"]
    assert resp.status == 200 and script["name"] == "Входящий" and script["steps"][0]["id"] == "start"
    answers = [{"step": "start", "answer": "Да", "fields": {"Имя": "Иван", "Бюджет": "15 млн", "Чужое": "x"}},
               {"step": "district", "answer": "Центр", "fields": {}}]
    resp, body = await _answers(anna, {"script_id": script["id"], "call_id": "1700000000.1",
                                                            "answers": answers})
    assert resp.status == 200, body
    assert json.loads(body)["inquiry_id"] == inquiry_id
    async with running.hub.database.sessions() as s:
        [run] = (await s.execute(select(ScriptRun))).scalars().all()
        [event] = (await s.execute(select(InquiryEvent).where(InquiryEvent.inquiry_id == inquiry_id,
                                                              InquiryEvent.kind == "script_answers"))).scalars().all()
        timeline = (await s.execute(select(TimelineEntry.summary).where(
            TimelineEntry.inquiry_id == inquiry_id, TimelineEntry.kind == "script_answers"))).scalars().all()
    assert run.inquiry_id == inquiry_id and run.answers[0]["fields"] == {"Имя": "Иван", "Бюджет": "15 млн"}
    assert "Вы звоните по объявлению? — Да (Имя: Иван; Бюджет: 15 млн)" in event.note
    assert timeline and "Какой район интересует? — Центр" in timeline[0]
    _, page = await root.get(f"/inquiries/{inquiry_id}")
    assert "Ответы по скрипту" in page and "15 млн" in page

    # An answer the script does not offer is refused; without the CSRF header nothing is stored.
    resp, body = await _answers(anna, {"script_id": script["id"], "call_id": "1700000000.1",
                                                            "answers": [{"step": "start", "answer": "Может быть"}]})
    assert resp.status == 422
    resp, _ = await _answers(anna, {"script_id": script["id"], "call_id": "1700000000.1",
                                                         "answers": answers}, csrf=False)
    assert resp.status == 403


async def test_answers_given_before_the_call_inquiry_opens_join_it_when_it_does(running):
    async with running.hub.database.sessions() as s, s.begin():
        script = CallScript(name="Звонки", channels=["call"], steps=parse_steps(SCRIPT))
        s.add(script)
        await s.flush()
        script_id = script.id
    await _call(running, "1700000000.2", "anna")
    anna = await running.browser("anna")
    await anna.get("/calls")
    resp, body = await _answers(anna, {
        "script_id": script_id, "call_id": "1700000000.2", "answers": [{"step": "start", "answer": "Нет"}]})
    assert resp.status == 200 and json.loads(body)["inquiry_id"] is None
    inquiry_id = await _call_inquiry(running, "1700000000.2")
    async with running.hub.database.sessions() as s:
        [run] = (await s.execute(select(ScriptRun))).scalars().all()
        kinds = (await s.execute(select(TimelineEntry.kind).where(TimelineEntry.inquiry_id == inquiry_id))
                 ).scalars().all()
    assert run.inquiry_id == inquiry_id and "script_answers" in kinds


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # access rules: storage is checked on both
async def test_each_role_reaches_scripts_as_it_must(running):
    await add_user(running, "engineer", Role.SERVICE_ENGINEER)
    users = running.agency.users
    async with running.hub.database.sessions() as s, s.begin():
        script = CallScript(name="Формы", channels=["webform"], steps=parse_steps(SCRIPT))
        client = Client(name="Клиентка", owner_id=users["anna"])
        s.add_all([script, client])
        await s.flush()
        inquiry = Inquiry(client_id=client.id, channel=Channel.WEBFORM, external_id="f-1", owner_id=users["anna"],
                          department_id=running.agency.sales)
        s.add(inquiry)
        await s.flush()
        script_id, inquiry_id = script.id, inquiry.id
    await _call(running, "1700000000.3", "anna")

    for login in ("anna", "director", "engineer", "boss"):
        b = await running.browser(login)
        resp, _ = await b.get("/scripts")
        assert resp.status == 403, login
    for login in ("director", "engineer"):
        b = await running.browser(login)
        resp, _ = await b.get("/scripts/for-call/1700000000.3", headers=JSON)
        assert resp.status == 403, login
    oleg = await running.browser("oleg")
    await oleg.get("/calls")
    resp, _ = await oleg.get("/scripts/for-call/1700000000.3", headers=JSON)
    assert resp.status == 404, "not Oleg's call"
    resp, _ = await _answers(oleg, {"script_id": script_id, "call_id": "1700000000.3",
                                                         "answers": [{"step": "start", "answer": "Нет"}]})
    assert resp.status == 404
    resp, _ = await oleg.get(f"/scripts/for-inquiry/{inquiry_id}", headers=JSON)
    assert resp.status == 404, "not Oleg's inquiry"
    await _call(running, "1700000000.4", "oleg")  # on his own call, he still cannot write on Anna's inquiry
    resp, _ = await _answers(oleg, {"script_id": script_id, "call_id": "1700000000.4", "inquiry_id": inquiry_id,
                                    "answers": [{"step": "start", "answer": "Нет"}]})
    assert resp.status == 404

    anna = await running.browser("anna")
    await anna.get("/calls")
    resp, body = await anna.get(f"/scripts/for-inquiry/{inquiry_id}", headers=JSON)
    assert resp.status == 200 and json.loads(body)["script"]["name"] == "Формы"
    resp, body = await _answers(anna, {"script_id": script_id, "inquiry_id": inquiry_id,
                                                            "answers": [{"step": "start", "answer": "Нет"}]})
    assert resp.status == 200 and json.loads(body)["inquiry_id"] == inquiry_id
    boss = await running.browser("boss")  # the head of Anna's department may change her inquiry
    resp, _ = await boss.get(f"/scripts/for-inquiry/{inquiry_id}", headers=JSON)
    assert resp.status == 200


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_workflow_pages_speak_russian_and_english_without_raw_keys(running):
    root = await running.browser("root")
    pages = {"/moderation": ("Заявки на модерации", "Requests awaiting moderation"),
             "/moderation/rejected": ("Отклонённые заявки", "Rejected requests"),
             "/moderation/settings": ("Что модерировать", "What to moderate"),
             "/quality": ("Контроль качества: на проверку", "Quality control: to re-check"),
             "/quality/checklists": ("Правило выборки", "Sampling rule"),
             "/scripts": ("Скрипты разговора", "Call scripts")}
    for index in (0, 1):
        if index:
            await root.post("/language", {"locale": "en", "next": "/inbox"})
        for path, titles in pages.items():
            resp, page = await root.get(path)
            assert resp.status == 200 and titles[index] in page, (path, index)
            for prefix in ("mod.", "qc.", "scripts."):
                assert f">{prefix}" not in page and f"> {prefix}" not in page, (path, prefix)
