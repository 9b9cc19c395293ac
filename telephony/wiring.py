"""``telephony_service(hub)``: the PBX link wired to the CRM core; ``VIEWS``: the calls pages."""

from __future__ import annotations

from crm_core.db import database_url

VIEWS = ("telephony.views", "telephony.views_card", "telephony.views_recordings", "telephony.views_sources",
         "telephony.views_queues")


def telephony_service(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    """The PBX link: AMI events → call state → pop-ups (via the bus) and stored calls (via the call log)."""
    from crm_core.agent_states import set_status
    from crm_core.db import is_sqlite
    from crm_core.lookup import PgCallerLookup, SqliteCallerLookup, find_client_by_phone
    from telephony.call_log import CallLog, load_agents, owner_of_caller
    from telephony.card import PendingLinks, card_details
    from telephony.service import TelephonyService

    s = hub.settings.asterisk
    region = hub.settings.phones.default_region
    sessions = hub.database.sessions
    speech = hub.connectors.get("speech")
    call_log = CallLog(sessions, hub.intake, region=region, recordings_dir=s.recordings_dir,
                       callback_delay_s=s.callback_delay_s, callback_attempts=s.callback_attempts,
                       transcribe=hub.settings.speech.model_path is not None,
                       transcribe_attempts=hub.settings.speech.max_attempts,
                       transcription_queued=getattr(speech, "poke", None),
                       join_window_days=s.join_window_days, dids=hub.settings.dids)

    async def pooled_lookup(number: str):  # noqa: ANN001, ANN202 - bootstrap.Hub
        async with sessions() as session:
            return await find_client_by_phone(session, number, region)

    lookup = pooled_lookup
    url = database_url(hub.settings.database)
    if is_sqlite(url) and url.database and url.database != ":memory:":
        lookup = SqliteCallerLookup(url.database, region, pooled_lookup)  # the pop-up's read, without hand-overs
    elif hub.pg_dsn is not None:
        lookup = PgCallerLookup(hub.pg_dsn, region, pooled_lookup)  # the pop-up's read, never behind the pool

    async def agent_state(user_id: int, status: str, reason: str | None, only_from: frozenset[str]) -> None:
        await set_status(sessions, hub.bus, user_id, status, reason=reason, source="pbx", only_from=only_from)

    async def details(client_id: int) -> dict:
        async with sessions() as session:
            return await card_details(session, client_id, hub.settings.time_zone)  # with next actions

    links = PendingLinks(sessions)  # properties linked on the call card, linked to the call once it is stored

    async def store_call(record, agents, task_id):  # noqa: ANN001, ANN202
        stored = await call_log.store(record, agents, task_id)
        if links.waiting(record.linkedid or ""):
            await links.stored(record.linkedid, stored.call_id)
        if not stored.duplicate:  # outgoing webhooks (call.ended)
            from bus.events import CallStored

            await hub.bus.publish(CallStored(stored.call_id, record.linkedid or ""))
        return stored

    service = TelephonyService(s, publish=hub.bus.publish_soon, lookup=lookup,
                               load_agents=lambda: load_agents(sessions), details=details, store_call=store_call,
                               find_owner=lambda number: owner_of_caller(sessions, number, region),
                               set_agent_state=agent_state)
    service.card_links = links  # the call card's «link a property» (telephony/views_card.py)
    return service
