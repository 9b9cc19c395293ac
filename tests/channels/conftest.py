"""The providers' fakes on loopback and a running hub (each database) with VK and WhatsApp switched on."""

from __future__ import annotations

import asyncio

import pytest

from tests.channels.fake_vk import FakeVk
from tests.channels.fake_whatsapp import FakeWhatsApp

VK_TOKEN, VK_GROUP, VK_SECRET, VK_CONFIRM = "vk1.a.community-token", 219000111, "cb-secret-7f3", "b1c2d3e4"
WA_TOKEN, WA_PHONE_ID, WA_SECRET, WA_VERIFY = "EAAG-test-token", "106540352242922", "app-secret-42", "verify-me"


@pytest.fixture
async def vk_api():
    api = FakeVk(VK_TOKEN, VK_GROUP, VK_SECRET)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
async def wa_api():
    api = FakeWhatsApp(WA_TOKEN, WA_PHONE_ID, WA_SECRET)
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def wa_template() -> str:
    return ""


@pytest.fixture
def hub_sections(vk_api, wa_api, wa_template):  # noqa: ANN001
    return {
        "vk": {"enabled": True, "group_id": VK_GROUP, "access_token": VK_TOKEN, "secret": VK_SECRET,
               "confirmation": VK_CONFIRM, "api_url": vk_api.api_url, "max_body_bytes": 4096},
        "whatsapp": {"enabled": True, "phone_number_id": WA_PHONE_ID, "access_token": WA_TOKEN,
                     "app_secret": WA_SECRET, "verify_token": WA_VERIFY, "graph_url": wa_api.graph_url,
                     "max_body_bytes": 8192, "template_name": wa_template},
        "email": {"retry_delays_s": [1.5] * 6},  # longer than one attempt during an outage; the tests wake the outbox
    }


async def wait_until(check, limit_s: float = 30.0, hub=None) -> None:  # noqa: ANN001
    """Poll ``check``; with ``hub``, wake its outbox each turn (a retry's back-off passing)."""
    async with asyncio.timeout(limit_s):
        while not await check():
            if hub is not None:
                hub.outbox_wakeup.set()
            await asyncio.sleep(0.05)


from tests.web.conftest import running  # noqa: E402, F401 - the running hub for end-to-end tests
