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
