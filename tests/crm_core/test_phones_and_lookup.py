"""Caller numbers in every Russian habit find the same client; the fast path never disagrees with phonenumbers."""

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.intake import IntakeRequest, IntakeService
from crm_core.lookup import find_client_by_phone
from crm_core.models import Channel
from crm_core.phones import _russian_fast_path, normalize_phone

national = st.from_regex(r"[3-9][0-9]{9}", fullmatch=True)
shapes = st.sampled_from(["8{n}", "7{n}", "+7{n}", "8 ({a}) {b}-{c}-{d}", "+7 ({a}) {b} {c} {d}", "8-{a}-{b}-{c}-{d}"])


@settings(max_examples=300)
@given(national, shapes)
def test_fast_path_gives_what_phonenumbers_gives(n, shape):
    text = shape.format(n=n, a=n[:3], b=n[3:6], c=n[6:8], d=n[8:])
    expected = phonenumbers.format_number(phonenumbers.parse("+7" + n, "RU"), phonenumbers.PhoneNumberFormat.E164)
    assert normalize_phone(text) == expected == "+7" + n
    fast = _russian_fast_path(text)
    assert fast is None or fast == expected


def test_foreign_and_odd_numbers_go_to_phonenumbers():
    assert _russian_fast_path("+380441234567") is None
    assert normalize_phone("+380 44 123 4567") == "+380441234567"
    assert _russian_fast_path("８９１６１２３４５６７") is None  # full-width digits: not the fast path


async def test_every_format_of_a_number_finds_its_client_and_garbage_finds_none(db, bus):
    res = await IntakeService(db.sessions, bus).accept(IntakeRequest(
        channel=Channel.CALL, external_id="1795390910.0", phone="+79161234567", name="Иван Петров"))
    async with db.sessions() as s:
        for raw in ("8 916 123-45-67", "+7 (916) 123 45 67", "79161234567", "9161234567"):
            card = await find_client_by_phone(s, raw)
            assert card is not None and card.client_id == res.client_id and card.name == "Иван Петров"
        for raw in ("+79160000000", "<unknown>", "", "12", "anonymous"):
            assert await find_client_by_phone(s, raw) is None
