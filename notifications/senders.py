"""Telegram and email senders for notices and greetings (the same bot and SMTP server as the replies)."""

from __future__ import annotations

from collections.abc import Callable

from connectors.email.errors import TemporarySendError
from connectors.email.smtp import OutgoingEmail, new_message_id
from connectors.telegram.events import Reply


class TelegramSender:
    """Through the hub's bot; looked up at send time (on PostgreSQL the connector is wrapped for the
    leader election after the capabilities are wired; any instance may send)."""

    def __init__(self, bot: Callable[[], object | None]) -> None:
        self._bot = bot

    async def deliver(self, to: str, subject: str, text: str) -> None:
        bot = self._bot()
        if bot is None:
            raise TemporarySendError("the Telegram bot is not running")
        await getattr(bot, "connector", bot).send(Reply(int(to), text))


class EmailSender:
    def __init__(self, smtp, domain: str) -> None:  # noqa: ANN001 - connectors.email.smtp.SmtpSender
        self._smtp = smtp
        self._domain = domain

    async def deliver(self, to: str, subject: str, text: str) -> None:
        await self._smtp.send(OutgoingEmail(to=to, subject=subject, text=text,
                                            message_id=new_message_id(self._domain)))
