"""``telegram_connector(hub)``: the bot's connector feeding the Telegram service."""

from __future__ import annotations


def telegram_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from channels.telegram.service import TelegramService
    from connectors.telegram.connector import TelegramConnector
    from crm_core.connector_state import DbCheckpoint

    service = TelegramService(hub.database.sessions, hub.intake, hub.settings.phones.default_region,
                              time_zone=hub.settings.time_zone)

    async def cabinet_link(chat_id: int) -> str | None:
        from selfservice.wiring import service_of  # wired later by the call-feed capability

        self_service = service_of(hub)
        return await self_service.bot_link(chat_id) if self_service is not None else None

    service.cabinet_link = cabinet_link
    if getattr(hub.settings, "privacy", None) is not None and hub.settings.privacy.enabled:
        from privacy.queries import bot_consent

        async def consent(telegram_id: str, granted: bool) -> bool:
            async with hub.database.sessions() as s, s.begin():
                return await bot_consent(s, telegram_id, granted)

        service.consent = consent  # /agree and /stop: the client's marketing consent from the bot
    return TelegramConnector(hub.settings.telegram, service.handle, DbCheckpoint(hub.database.sessions),
                             files_dir=hub.var_dir / "attachments" / "telegram")
