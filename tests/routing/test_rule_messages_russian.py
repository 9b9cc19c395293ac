"""What is wrong with routing rules is said in Russian to a Russian-speaking admin — in the TOML import page and
the rule editor — and stays the compiler's English in the English interface and on the command line."""

from __future__ import annotations

import re

import pytest

from routing.rules import RuleSetError, compile_rules, load_rules_toml
from routing.views_rule_problems import problem_line, problem_message
from tests.web.conftest import hub_sections, running  # noqa: F401 - fixtures

SELF_CROSSING = {"type": "Polygon", "coordinates": [[[37.60, 55.74], [37.64, 55.76], [37.64, 55.74], [37.60, 55.76],
                                                     [37.60, 55.74]]]}
EVERYTHING_WRONG = {
    "time_zone": "Europe/Nowhere",
    "territories": [{"id": "center", "geojson": SELF_CROSSING}],
    "rules": [
        {"id": "a", "priority": 10, "target": {"agents": [1]}, "when": {"territories": ["north"], "districts": []}},
        {"id": "a", "priority": 10, "target": {"agents": [1]}},
    ],
}
MALFORMED = {"rules": [
    {"id": "b", "priority": "десять", "target": {"agents": [1], "pool": "common"}, "strategy": "fastest",
     "when": {"price_min": 10, "price_max": 5, "districs": ["ЦАО"], "hours": {"start": "25:00", "end": "10:00"}}},
    {"id": "c d", "priority": 5, "target": {}, "offer_seconds": 0},
]}


def problems_of(data) -> list:  # noqa: ANN001
    with pytest.raises(RuleSetError) as caught:
        compile_rules(data) if isinstance(data, dict) else load_rules_toml(data)
    return list(caught.value.problems)


LATIN_PROSE = re.compile(r"\b(?:is|the|not|field|unknown|give|should|must|valid|input|value|overlaps|used)\b")


@pytest.mark.parametrize("data", [EVERYTHING_WRONG, MALFORMED, 'id = "x\n', "[[rules]]\nid = 1 2\n"])
def test_every_problem_reads_in_russian_and_in_english_as_the_compiler_wrote_it(data) -> None:  # noqa: ANN001
    found = problems_of(data)
    assert found
    for p in found:
        line = problem_line(p, "ru")
        assert re.search("[а-яё]", line), line
        assert not LATIN_PROSE.search(line.lower()), line  # no English left but the admin's own ids and values
        assert problem_message(p, "en") == p.message  # the English interface: as before


def test_the_russian_texts_name_the_rule_the_field_and_what_to_do() -> None:
    lines = [problem_line(p, "ru") for p in problems_of(EVERYTHING_WRONG)]
    assert "неизвестный часовой пояс «Europe/Nowhere»" in " ".join(lines)
    assert any(line.startswith("территория №1 «center» «контур»: контур не читается: контур пересекает сам себя")
               for line in lines)
    assert "правило №1 «a» «территории»: нет территории «north» (есть: center)" in lines
    assert any("«районы»: пустой список не подойдёт ни одному обращению" in line for line in lines)
    assert "правило №2 «a» «код (id)»: правило с таким кодом уже есть" in lines
    assert any("приоритет 10 уже занят правилом «a»" in line for line in lines)
    lines = [problem_line(p, "ru") for p in problems_of(MALFORMED)]
    joined = "\n".join(lines)
    for text in ("«приоритет»: нужно целое число", "«способ распределения»: допустимые значения:",
                 "«when.districs»: такого поля нет", "«код (id)»: пишется без пробелов",
                 "«время на отклик, с»: должно быть больше 0", "«кому»: не указано, кому"):
        assert text in joined, (text, joined)
    [toml] = problems_of('[[rules]]\nid = "x\n')
    assert problem_line(toml, "ru").startswith("текст не читается как TOML: ошибка в строке 2")


async def test_the_import_page_lists_the_problems_in_russian_and_in_english_for_english(running):  # noqa: F811
    admin = await running.browser("root")
    await admin.get("/admin/routing")
    text = '[[rules]]\nid = "a"\npriority = 10\ntarget = { agents = [1] }\nwhen = { price_min = 9, price_max = 1 }\n'
    resp, page = await admin.post("/admin/routing/import", {"text": text})
    assert resp.status == 422
    assert "правило №1 «a» <code>условия</code>: цена «от» (9) больше цены «до» (1)" in page
    assert "is above" not in page
    await admin.post("/language", {"locale": "en"})  # the header's «English»
    await admin.get("/admin/routing")
    resp, page = await admin.post("/admin/routing/import", {"text": text})
    assert resp.status == 422 and "price_min 9 is above price_max 1" in page


async def test_the_rule_editor_shows_a_rule_set_problem_beside_its_field_in_russian(running):  # noqa: F811
    from tests.routing.test_rule_editor import post, rule_fields

    admin = await running.browser("root")
    await admin.get("/admin/routing/editor?new=1")
    fields = [*rule_fields(running.agency.users["anna"]), ("territories", "north")]  # a territory nobody drew
    resp, page = await post(admin, "/admin/routing/editor/rule", fields)
    assert resp.status == 422
    assert 'data-field="territories">нет территории «north» (территорий пока нет)' in page
    assert "unknown territory" not in page
