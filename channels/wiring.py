"""``run_outbox(hub)``: agents' replies leave through the outbox, by email or Telegram."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("hub")


async def run_outbox(hub,  # noqa: ANN001 - bootstrap.Hub
                      poll_s: float = 5.0) -> None:
    """Send queued replies; woken at once when an agent queues one, else every few seconds for retries."""
    from channels.outbox import EmailChannel, deliver_due
    from connectors.email.smtp import SmtpSender
    from connectors.telegram.connector import TelegramChannel

    senders = {}
    if hub.settings.email.enabled:
        senders["email"] = EmailChannel(SmtpSender(hub.settings.email))
    if "telegram" in hub.connectors:
        bot = hub.connectors["telegram"]
        senders["telegram"] = TelegramChannel(getattr(bot, "connector", bot))  # any instance may send
    senders.update(messenger_senders(hub))
    while True:
        try:
            while await deliver_due(hub.database.sessions, senders, hub.settings.email.retry_delays_s,
                                    send_timeout_s=max(60.0, 3 * hub.settings.email.smtp_timeout_s)):
                pass
        except Exception as exc:  # noqa: BLE001 - the loop must outlive a bad moment of the database
            # the type only: a database error's text quotes the row, and a reply's row holds its text
            log.error("outbox pass failed (%s); trying again in %.0fs", type(exc).__name__, poll_s)
        hub.outbox_wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(poll_s):
                await hub.outbox_wakeup.wait()


MESSENGERS = ("vk", "whatsapp", "avito")
"""Webhook channels with replies through the outbox (any instance may take their webhooks and send)."""


def messaging_connectors(hub) -> dict:  # noqa: ANN001 - bootstrap.Hub
    """The enabled messengers' connectors, by name, for ``hub.connectors`` (they show on /healthz)."""
    found: dict = {}
    if hub.settings.vk.enabled:
        from channels.vk.wiring import vk_connector

        found["vk"] = vk_connector(hub)
    if hub.settings.whatsapp.enabled:
        from channels.whatsapp.wiring import whatsapp_connector

        found["whatsapp"] = whatsapp_connector(hub)
    if hub.settings.avito.enabled:
        from channels.avito.wiring import avito_connector

        found["avito"] = avito_connector(hub)
    if hub.settings.sms.enabled:
        from channels.sms.wiring import sms_connector

        found["sms"] = sms_connector(hub)
    return found


def messenger_senders(hub) -> dict:  # noqa: ANN001 - bootstrap.Hub
    from connectors.avito.connector import AvitoChannel
    from connectors.vk.connector import VkChannel
    from connectors.whatsapp.connector import WhatsAppChannel

    kinds = {"vk": VkChannel, "whatsapp": WhatsAppChannel, "avito": AvitoChannel}
    senders = {name: kinds[name](hub.connectors[name]) for name in MESSENGERS if name in hub.connectors}
    if "sms" in hub.connectors:
        from channels.sms.wiring import sms_sender

        senders["sms"] = sms_sender(hub)
    return senders


def outbox_needed(hub) -> bool:  # noqa: ANN001 - bootstrap.Hub
    return bool(hub.settings.email.enabled or "telegram" in hub.connectors
                or any(name in hub.connectors for name in (*MESSENGERS, "sms")))
