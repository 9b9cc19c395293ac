"""«Названия очередей»: the administrator names the PBX queues in Russian; a stored name wins over the settings
file's, a cleared one falls back to it, and every page that shows a queue shows the new name at once."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from sqlalchemy import select

from crm_core.models import Call, utcnow
from crm_core.models.queue_names import QueueName
from crm_core.models.settings_audit import SettingChange
from crm_core.models.workflow import CallScript


@pytest.fixture
def hub_sections() -> dict:
    return {"asterisk": {"queue_names": {"sales": "Отдел продаж"}}}


async def _post(b, pairs: list[tuple[str, str]]):  # noqa: ANN001, ANN202
    resp = await b.http.post(b.base + "/admin/queues", data=MultiDict([*pairs, ("_csrf", b.csrf)]),
                             allow_redirects=False)
    return resp, await resp.text()


async def test_the_admin_names_queues_and_the_pages_show_the_names(running):
    async with running.hub.database.sessions() as s, s.begin():
        s.add(Call(uniqueid="u-1", linkedid="l-1", direction="inbound", caller="+79161234567", queue="linear",
                   started_at=utcnow()))
        s.add(CallScript(name="Линия", queues=["linear", "sales"], steps=[{"id": "a", "question": "Вопрос?",
                                                                            "fields": [], "answers": []}]))
    root = await running.browser("root")
    resp, page = await root.get("/admin/queues")
    assert resp.status == 200 and "Названия очередей АТС" in page
    assert 'data-queue="linear"' in page and 'data-queue="sales"' in page and "Отдел продаж" in page
    resp, page = await _post(root, [("queue", "sales"), ("title", ""), ("queue", "linear"), ("title", "Линия 1"),
                                    ("new_queue", "support 2"), ("new_title", "")])
    assert resp.status == 422 and "исправьте отмеченные поля" in page
    assert 'data-field="new_queue">Имя очереди в АТС' in page and 'data-field="new_title">Укажите название' in page
    resp, _ = await _post(root, [("queue", "sales"), ("title", ""), ("queue", "linear"), ("title", "Линия  1"),
                                 ("new_queue", "support2"), ("new_title", "Поддержка")])
    assert resp.status == 303
    resp, page = await root.get("/scripts")  # a page showing queues through the `queue` filter
    assert "Линия 1, Отдел продаж" in page
    assert running.hub.settings.asterisk.queue_names == {"sales": "Отдел продаж", "linear": "Линия 1",
                                                         "support2": "Поддержка"}
    # a stored name wins over the file's; cleared, the file's comes back
    resp, _ = await _post(root, [("queue", "sales"), ("title", "Продажи (Москва)"), ("queue", "linear"),
                                 ("title", "")])
    resp, page = await root.get("/scripts")
    assert "Продажи (Москва)" in page and "Линия 1" not in page
    resp, _ = await _post(root, [("queue", "sales"), ("title", "")])
    resp, page = await root.get("/scripts")
    assert "Отдел продаж" in page
    async with running.hub.database.sessions() as s:
        stored = {r.queue: r.title for r in (await s.execute(select(QueueName))).scalars()}
        journal = [(r.key, r.before, r.after) for r in (await s.execute(
            select(SettingChange).where(SettingChange.kind == "queue").order_by(SettingChange.id))).scalars()]
    assert stored == {"support2": "Поддержка"}
    assert journal == [("queue:linear", None, "Линия 1"), ("queue:support2", None, "Поддержка"),
                       ("queue:sales", None, "Продажи (Москва)"), ("queue:linear", "Линия 1", None),
                       ("queue:sales", "Продажи (Москва)", None)]
    anna = await running.browser("anna")
    resp, _ = await anna.get("/admin/queues")
    assert resp.status == 403
