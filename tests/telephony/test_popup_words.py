"""The caller's last calls on the pop-up: their outcome in the agent's language, their time in the agency's."""

from datetime import UTC, datetime

from crm_core.models import Call, Client
from telephony.card import card_details
from telephony.popups import _in_language


def test_a_past_calls_outcome_is_a_word_of_the_agents_language():
    details = {"owner": "Анна", "recent_calls": [{"at": "2026-12-07T22:46:37+03:00", "outcome": "answered"},
                                                 {"at": None, "outcome": "abandoned"},
                                                 {"at": None, "outcome": "something_new"}]}
    ru = [c["outcome_label"] for c in _in_language(details, "ru")["recent_calls"]]
    en = [c["outcome_label"] for c in _in_language(details, "en")["recent_calls"]]
    assert ru == ["принят", "клиент не дождался", "something_new"]
    assert en == ["answered", "abandoned", "something_new"]
    assert details["recent_calls"][0].get("outcome_label") is None  # the shared details are not changed


async def test_the_last_calls_times_are_the_agencys_wall_clock(db):
    async with db.sessions() as s, s.begin():
        client = Client(name="Иван Петров")
        s.add(client)
        await s.flush()
        s.add(Call(uniqueid="u-1", linkedid="u-1", direction="inbound", caller="+79161234567", client_id=client.id,
                   started_at=datetime(2026, 12, 7, 19, 46, 37, tzinfo=UTC), outcome="answered"))
    async with db.sessions() as s:
        found = await card_details(s, client.id, "Asia/Yekaterinburg")
    assert [c["at"] for c in found["recent_calls"]] == ["2026-12-08T00:46:37+05:00"]
