"""The pure parts: the documented verifying snippet against the hub's signature, the back-off and its 24 h
window, which receiver addresses are refused, and ringing/answering read from the call state."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from telephony.model import Call
from telephony.state import CallState
from webhooks.calls import CallWatcher
from webhooks.core import BadUrl, check_url, envelope, next_attempt, refused_address, sign, verify

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_python() -> str:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"Python \(the suite runs this snippet.*?```python\n(.*?)```", text, re.S)
    assert block is not None, "docs/webhooks.md keeps its Python verifying snippet"
    return block.group(1)


def test_the_documented_python_snippet_verifies_the_hubs_signature():
    namespace: dict = {}
    exec(compile(documented_python(), str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    receiver_verify = namespace["verify"]
    body = envelope("d-1", "inquiry.opened", datetime(2026, 12, 7, 9, 15, tzinfo=UTC), {"inquiry_id": 7,
                                                                                         "client": "Ирина"})
    header = sign("whsec_test", int(time.time()), body)
    assert receiver_verify("whsec_test", header, body.encode())
    assert not receiver_verify("whsec_other", header, body.encode()), "another secret"
    assert not receiver_verify("whsec_test", header, body.replace("7", "8").encode()), "a changed body"
    stale = sign("whsec_test", int(time.time()) - 3600, body)
    assert not receiver_verify("whsec_test", stale, body.encode()), "an old, replayed request"
    assert not receiver_verify("whsec_test", "v1=abc", body.encode())
    # the scheme as documented: HMAC-SHA256 over "<t>.<body>"
    t = int(time.time())
    mac = hmac.new(b"k", f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    assert sign("k", t, body) == f"t={t},v1={mac}" and verify("k", f"t={t},v1={mac}", body, t)
    php = DOC.read_text(encoding="utf-8")
    assert "hash_hmac('sha256', $parts['t'] . '.' . $body, $secret)" in php and "hash_equals" in php


def test_back_off_doubles_up_to_the_cap_and_gives_up_after_24_hours():
    made = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    waits = []
    for attempts in range(1, 9):
        at = next_attempt(attempts, made, made, base_s=30, max_s=3600, give_up_after_s=86400)
        waits.append((at - made).total_seconds())
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600]
    late = made + timedelta(hours=23, minutes=30)
    assert next_attempt(30, made, late, base_s=30, max_s=3600, give_up_after_s=86400) is None
    assert next_attempt(30, made, late - timedelta(hours=1), base_s=30, max_s=3600, give_up_after_s=86400)


@pytest.mark.parametrize(("url", "code"), [
    ("ftp://1c.local/in", "scheme"), ("file:///etc/passwd", "scheme"), ("javascript:alert(1)", "scheme"),
    ("http://user:pw@1c.local/", "credentials"), ("http://169.254.169.254/latest/meta-data", "address"),
    ("http://[fe80::1]/", "address"), ("http://0.0.0.0/", "address"), ("http://224.0.0.1/", "address"),
    ("https://", "invalid"), ("http://h:99999/", "invalid"), ("", "empty"), ("https://a/" + "x" * 2001, "too_long"),
])
def test_refused_receiver_addresses(url, code):  # noqa: ANN001
    with pytest.raises(BadUrl) as err:
        check_url(url)
    assert err.value.code == code


def test_lan_receivers_are_allowed_unless_switched_off():
    for url in ("http://192.168.1.10/1c/hs/hub", "http://127.0.0.1:8081/in", "https://crm.example.ru/hook",
                "http://1c-server:80/hs"):
        assert check_url(url) == url
    with pytest.raises(BadUrl):
        check_url("http://10.0.0.5/", allow_private=False)
    assert refused_address("::ffff:169.254.169.254", True), "an IPv4-mapped metadata address"
    assert not refused_address("8.8.8.8", False) and refused_address("127.0.0.1", False)


def test_ringing_and_answering_from_the_call_state_once_each():
    seen = []
    agents = {"101": SimpleNamespace(user_id=7), "102": SimpleNamespace(user_id=8)}
    pbx = SimpleNamespace(calls=CallState(), agents=agents)
    watcher = CallWatcher(pbx, seen.append)

    def event(name: str, call: Call | None) -> None:
        pbx.calls = CallState(calls={"L1": call} if call else {}, channels={"U1": "L1"})
        watcher.on_event(SimpleNamespace(get=lambda k, d="": {"Uniqueid": "U1"}.get(k, d), received_at=1e9,
                                         name=name))

    call = Call(linkedid="L1", uniqueid="U1", caller="+79161234567", did="+74951112233", queue="sales")
    event("Newchannel", call)
    event("DialBegin", Call(**{**_fields(call), "ringing": ("101", "102")}))
    event("DialBegin", Call(**{**_fields(call), "ringing": ("101", "102")}))  # seen again: nothing new
    event("BridgeEnter", Call(**{**_fields(call), "ringing": (), "answered_by": "102"}))
    event("Hangup", None)
    assert [(o.event_type, o.data["extension"], o.data["agent_id"]) for o in seen] == [
        ("call.ringing", "101", 7), ("call.ringing", "102", 8), ("call.answered", "102", 8)]
    assert {o.order_key for o in seen} == {"call:L1"} and seen[0].data["caller"] == "+79161234567"


def _fields(call: Call) -> dict:
    return {name: getattr(call, name) for name in Call.__dataclass_fields__}
