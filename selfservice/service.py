"""``hub.connectors["selfservice"]``: sends sign-in links (agents from the client card, the client from the
Telegram bot), limits sign-in attempts per address, and forgets expired links and sessions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque

from sqlalchemy import select

from crm_core.models import Contact, ContactKind, utcnow
from selfservice import links
from selfservice.links import CHANNELS, SIGN_IN_PATH, LinkRefused
from selfservice.settings import SelfServiceSettings

log = logging.getLogger("hub.selfservice")
PURGE_S = 3600.0

TEXT = {
    "subject": "Ваш личный кабинет",
    "body": ("Здравствуйте! Ссылка для входа в личный кабинет ({agency}): ваши обращения, просмотры и контакт "
             "агента.\n{url}\nСсылка действует {minutes} мин и только один раз. Если вы её не запрашивали, "
             "просто не открывайте её."),
    "sms": "{agency}: вход в личный кабинет {url} (ссылка действует {minutes} мин, один раз)",
}


class SelfService:
    def __init__(self, hub, settings: SelfServiceSettings, clock=time.monotonic) -> None:  # noqa: ANN001
        self.hub = hub
        self.settings = settings
        self.clock = clock
        self.state = "stopped"
        self.sent = 0
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._purger(), name="selfservice-purge")
        self.state = "running"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        self.state = "stopped"

    async def _purger(self) -> None:
        while True:
            try:
                async with self.hub.database.sessions() as s, s.begin():
                    gone = await links.purge(s)
                if gone:
                    log.info("self-service: %d expired links and sessions forgotten", gone)
            except Exception:  # noqa: BLE001 - the database may be away; next hour then
                log.exception("self-service purge failed")
            await asyncio.sleep(PURGE_S)

    # --- limits --------------------------------------------------------------------------------------
    def allow(self, ip: str) -> bool:
        """One more sign-in attempt from this address within the minute's budget?"""
        now = self.clock()
        q = self._hits[ip]
        while q and q[0] < now - 60:
            q.popleft()
        if len(q) >= self.settings.per_ip_per_minute:
            return False
        q.append(now)
        if len(self._hits) > 10_000:  # forget idle addresses
            for key in [k for k, v in self._hits.items() if not v or v[-1] < now - 60]:
                del self._hits[key]
        return True

    # --- links ---------------------------------------------------------------------------------------
    def base_url(self, fallback: str = "") -> str:
        url = self.settings.public_url or self.hub.settings.web.public_url or fallback
        if not url:
            web = self.hub.settings.web
            url = f"http://{web.host}:{web.port}"
        return url.rstrip("/")

    def _notifier(self):  # noqa: ANN202 - notifications.notifier.Notifier | None
        from notifications.wiring import service_of

        service = service_of(self.hub)
        return service.notifier if service is not None else None

    def channels_on(self) -> tuple[str, ...]:
        notifier = self._notifier()
        on = {c for c in CHANNELS if notifier is not None and c in notifier.senders}
        if "sms" in self.hub.connectors:  # the SMS outbox (channels/sms), not the notifier, sends it
            on.add("sms")
        return tuple(c for c in CHANNELS if c in on)

    async def send_link(self, client_id: int, channel: str = "auto", *, requested_by: int | None,
                        base_url: str = "") -> str:
        """Queue a sign-in link to the client by Telegram, email or SMS ("auto": Telegram when the client has a
        chat, else email, else SMS when it is on). Returns the channel used; raises LinkRefused("no_address" |
        "channel_off" | "too_many" | "sms_opted_out" | "sms_cap" | "no_inquiry")."""
        from notifications.notifier import Notifier

        notifier = self._notifier()
        wanted = CHANNELS if channel == "auto" else (channel,)
        on = self.channels_on()
        now = utcnow()
        inquiry_id: int | None = None
        async with self.hub.database.sessions() as s, s.begin():
            found = [(c, a) for c in wanted if (a := await links.address_of(s, client_id, c))]
            if not found:
                raise LinkRefused("no_address")
            usable = [(c, a) for c, a in found if c in on]
            if not usable:
                raise LinkRefused("channel_off")
            used, address = usable[0]
            if used == "sms":
                inquiry_id = await self._sms_check(s, client_id)
            secret, link = await links.issue(s, client_id, used, requested_by=requested_by,
                                             minutes=self.settings.link_minutes,
                                             per_hour=self.settings.links_per_client_per_hour, now=now)
            text = self.message(secret, base_url)
            if used != "sms":
                await Notifier.queue(s, f"selfservice:{link.id}", used, address, TEXT["subject"], text, now)
        if inquiry_id is not None:
            await self._queue_sms(inquiry_id, self.message(secret, base_url, template="sms"))
        elif notifier is not None:
            notifier.wakeup.set()
        self.sent += 1
        log.info("self-service link for client=%s by %s requested by user=%s", client_id, used, requested_by)
        return used

    def message(self, secret: str, base_url: str = "", template: str = "body") -> str:
        url = self.base_url(base_url) + SIGN_IN_PATH + secret
        return TEXT[template].format(agency=self.settings.agency_name, url=url, minutes=self.settings.link_minutes)

    # --- by SMS (the SMS outbox: the client's opt-out and the day's cap) ------------------------------------
    async def _sms_check(self, s, client_id: int) -> int:  # noqa: ANN001 - AsyncSession
        """The inquiry the SMS is kept on (the client's latest); refused before a link is made when the client
        opted out of SMS or has no inquiry."""
        from channels.sms.service import latest_inquiry, opted_out

        if await opted_out(s, client_id):
            raise LinkRefused("sms_opted_out")
        inquiry_id = await latest_inquiry(s, client_id)
        if inquiry_id is None:
            raise LinkRefused("no_inquiry")
        return inquiry_id

    async def _queue_sms(self, inquiry_id: int, text: str) -> None:
        from channels.sms.service import SmsRefused, queue_sms

        sms = self.hub.settings.sms
        try:
            await queue_sms(self.hub.database.sessions, inquiry_id, text, kind="link", daily_cap=sms.daily_cap,
                            max_text=sms.max_text)
        except SmsRefused as exc:
            raise LinkRefused("sms_cap" if exc.reason == "cap" else "sms_opted_out" if exc.reason == "opted_out"
                              else "no_address") from None
        self.hub.outbox_wakeup.set()

    async def bot_link(self, chat_id: str | int) -> str | None:
        """For the Telegram bot: the text with a fresh sign-in link for the client tied to this chat, to send
        in the bot's own reply; None when the chat is tied to no client. Raises LinkRefused("too_many")."""
        async with self.hub.database.sessions() as s, s.begin():
            client_id = (await s.execute(select(Contact.client_id).where(
                Contact.kind == ContactKind.TELEGRAM, Contact.value == str(chat_id)).order_by(Contact.id).limit(1)
            )).scalar()
            if client_id is None:
                return None
            secret, _ = await links.issue(s, client_id, "telegram", requested_by=None,
                                          minutes=self.settings.link_minutes,
                                          per_hour=self.settings.links_per_client_per_hour)
        log.info("self-service link for client=%s asked in the bot", client_id)
        return self.message(secret)
