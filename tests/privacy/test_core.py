"""The pure parts: masking a number, who sees masked numbers, consent flags and the latest consent."""

from __future__ import annotations

from datetime import UTC, datetime

from privacy.consent import ConsentState, current, parse_flag
from privacy.masking import mask_phone, policy_from


def test_a_russian_mobile_is_masked_as_the_agency_expects():
    assert mask_phone("+79161234567") == "+7 916 ***-**-67"
    assert mask_phone("89161234567") == "+7 916 ***-**-67"
    assert "1234" not in mask_phone("+441632960123") and mask_phone("+441632960123").endswith("-23")
    assert mask_phone("123") == "***" and mask_phone(None) == ""


def test_roles_and_departments_decide_and_admin_and_dpo_always_see_numbers():
    policy = policy_from(["agent"], [7])
    assert policy.masks("agent", None) and policy.masks("dept_head", 7)
    assert not policy.masks("dept_head", 8) and not policy.masks("admin", 7) and not policy.masks("dpo", 7)
    assert policy.shown("+79161234567", "agent", 1) == "+7 916 ***-**-67"
    assert policy.shown("+79161234567", "director", 1) == "+79161234567"


def test_consent_flags_and_the_latest_word_wins():
    assert parse_flag("Да") is True and parse_flag("нет") is False and parse_flag("") is None
    t1, t2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    state = current([ConsentState("marketing", False, "agent", t2), ConsentState("marketing", True, "webform", t1)])
    assert state["marketing"].granted is False and state["marketing"].source == "agent"


def test_a_reports_number_columns_are_masked_and_its_figures_kept():
    from privacy.masking import mask_rows

    rows = [("2026-03-02", "+79161234567", "Иван", 3), ("2026-03-03", None, "—", 1)]
    assert mask_rows(["at", "caller", "caller_name", "calls"], rows) == [
        ("2026-03-02", "+7 916 ***-**-67", "Иван", 3), ("2026-03-03", None, "—", 1)]
    assert mask_rows(["department", "calls"], [("Продажи", 5)]) == [("Продажи", 5)]
