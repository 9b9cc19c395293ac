"""Real-world hard mail (tests/fixtures/email) read the way an agent needs it: no Cyrillic lost,
nothing crashes, automatic mail recognised so nobody answers it."""


import pytest
from sqlalchemy import func, select

from channels.email.service import email_request, store_attachments
from connectors.email.parse import parse_email, safe_filename
from crm_core.intake import IntakeService
from crm_core.models import InquiryEvent, Message
from tests.conftest import FIXTURES

CORPUS = FIXTURES / "email"
FILES = sorted(p for p in CORPUS.glob("*") if p.suffix in (".eml", ".txt")) if CORPUS.exists() else []


AUTOMATIC = {
    "autoreply-vacation-autosubmitted.eml", "autoreply-windows1252-no-autosubmitted.eml",
    "bounce-delayed-broken-no-wrapper.eml", "bounce-dsn-text-rfc822-headers.eml", "bounce-mailsite-rfc822-headers.eml",
    "bounce-nested-dsn-in-dsn-cp1251.eml", "mdn-read-receipt.eml", "read-receipt-ms-tnef.eml",
    "ru-bounce-mailru-textplain.eml", "ru-bounce-yandex-cr-only.eml",
}


def mail(name: str):
    return parse_email((CORPUS / name).read_bytes())


def test_the_corpus_is_there():
    assert len(FILES) >= 20, f"expected the email corpus in {CORPUS}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_hard_message_parses_without_losing_its_id(path):
    parsed = parse_email(path.read_bytes())
    assert parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
    assert "\ufffd" not in parsed.subject


@pytest.mark.parametrize(("name", "subject", "sender_name", "text_start"), [
    ("ru-cp1251-subject-body-b64.eml", "Алфавит", "Bug Reporter", "Вопрос"),
    ("ru-8bit-utf8-body.eml", "2 RCPT MIME", "bob", "Превел"),
    ("ru-bounce-yandex-cr-only.eml", "Недоставленное сообщение", None, "**********"),
    ("ru-empty-subject-related-images.eml", "Быстрее вкладывайте в золото!", "Время пришло", "Профиль"),
    ("cp1251-quoted-encoded-word-year3609.eml", "[0]: XXXXXXX XXXXX XXXXX !", "Атиковa", "Filter2"),
])
def test_cyrillic_in_any_charset_survives(name, subject, sender_name, text_start):
    parsed = mail(name)
    assert parsed.subject == subject and parsed.from_name == sender_name
    assert parsed.text.startswith(text_start)


@pytest.mark.parametrize(("name", "kind"), [
    ("autoreply-vacation-autosubmitted.eml", "auto_reply"),
    ("autoreply-windows1252-no-autosubmitted.eml", "auto_reply"),
    ("ru-bounce-mailru-textplain.eml", "bounce"),
    ("ru-bounce-yandex-cr-only.eml", "bounce"),
    ("bounce-nested-dsn-in-dsn-cp1251.eml", "bounce"),
    ("bounce-delayed-broken-no-wrapper.eml", "bounce"),
    ("mdn-read-receipt.eml", "receipt"),
    ("read-receipt-ms-tnef.eml", "receipt"),
    ("not-bounce-forward-broken-b64-encoded-word.eml", None),
    ("ru-cp1251-subject-body-b64.eml", None),
])
def test_automatic_mail_is_recognised_and_people_are_not(name, kind):
    assert mail(name).automatic == kind


def test_html_only_mail_becomes_text_and_says_so():
    parsed = mail("ru-empty-subject-related-images.eml")
    assert "<" not in parsed.text and "Сообщения" in parsed.text
    assert any("HTML" in n for n in parsed.notes)


def test_a_raw_8bit_attachment_name_is_read_and_cannot_escape(tmp_path):
    parsed = mail("ru-attachment-raw8bit-truncated-filename.eml")
    assert parsed.attachments[0].filename.startswith("Картинка с очень, очень длинным")
    refs = store_attachments(tmp_path, parsed.message_id, parsed.attachments)
    stored = tmp_path / refs[0]["path"]
    assert stored.read_bytes() == parsed.attachments[0].data
    assert safe_filename("../../etc/passwd", 1) == "passwd"
    assert safe_filename("..\\..\\boot.ini", 2) == "boot.ini"
    assert safe_filename("..", 3) == "attachment-3"


def test_an_attachment_over_the_cap_is_noted_and_the_rest_kept(tmp_path):
    parsed = parse_email((CORPUS / "read-receipt-ms-tnef.eml").read_bytes(), max_attachment_bytes=10)
    assert parsed.attachments[0].data is None and any("size cap" in n for n in parsed.notes)
    assert store_attachments(tmp_path, parsed.message_id, parsed.attachments)[0]["kept"] is False


def test_mail_without_message_id_gets_a_stable_one():
    first, again = mail("mime-missing-final-boundary.eml"), mail("mime-missing-final-boundary.eml")
    assert first.generated_id and first.message_id == again.message_id


async def test_every_corpus_message_is_one_record_and_a_replay_adds_nothing(db, bus, tmp_path):
    intake = IntakeService(db.sessions, bus)
    flagged = set()
    for path in FILES:
        parsed = parse_email(path.read_bytes())
        if parsed.automatic:
            flagged.add(path.name)
        refs = store_attachments(tmp_path, parsed.message_id, parsed.attachments)
        await intake.accept(email_request(parsed, refs))
    for path in FILES:  # the mailbox is read again after a restart
        parsed = parse_email(path.read_bytes())
        assert (await intake.accept(email_request(parsed, []))).duplicate
    async with db.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == len(FILES)
        notes = (await s.execute(select(func.count()).select_from(InquiryEvent)
                                 .where(InquiryEvent.kind == "intake_note"))).scalar_one()
        stored_auto = [m for m in (await s.execute(select(Message.meta))).scalars().all() if m["automatic"]]
    assert notes > 0
    assert flagged == AUTOMATIC and len(stored_auto) == len(AUTOMATIC)
