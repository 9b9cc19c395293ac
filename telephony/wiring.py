"""``telephony_service(hub)``: the PBX link wired to the CRM core; ``VIEWS``: the calls pages."""

from __future__ import annotations

from crm_core.db import database_url

VIEWS = ("telephony.views",)


def telephony_service(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    """The PBX link: AMI events → call state → pop-ups (via the bus) and stored calls (via the call log)."""
    from crm_core.agent_states import set_status
    from crm_core.caller_card import caller_details
    from crm_core.db import is_sqlite
    from crm_core.lookup import SqliteCallerLookup, find_client_by_phone
    from telephony.call_log import CallLog, load_agents, owner_of_caller
    from telephony.service import TelephonyService

    s = hub.settings.asterisk
    region = hub.settings.phones.default_region
    sessions = hub.database.sessions
    speech = hub.connectors.get("speech")
    call_log = CallLog(sessions, hub.intake, region=region, recordings_dir=s.recordings_dir,
                       callback_delay_s=s.callback_delay_s, callback_attempts=s.callback_attempts,
                       transcribe=hub.settings.speech.model_path is not None,
                       transcribe_attempts=hub.settings.speech.max_attempts,
                       transcription_queued=getattr(speech, "poke", None))

    async def pooled_lookup(number: str):  # noqa: ANN001, ANN202 - bootstrap.Hub
        async with sessions() as session:
            return await find_client_by_phone(session, number, region)

    lookup = pooled_lookup
    url = database_url(hub.settings.database)
    if is_sqlite(url) and url.database and url.database != ":memory:":
        lookup = SqliteCallerLookup(url.database, region, pooled_lookup)  # the pop-up's read, without hand-overs

    async def agent_state(user_id: int, status: str, reason: str | None, only_from: frozenset[str]) -> None:
        await set_status(sessions, hub.bus, user_id, status, reason=reason, source="pbx", only_from=only_from)

    async def details(client_id: int) -> dict:
        async with sessions() as session:
            return await caller_details(session, client_id)

    return TelephonyService(s, publish=hub.bus.publish, lookup=lookup, load_agents=lambda: load_agents(sessions),
                            details=details, store_call=call_log.store,
                            find_owner=lambda number: owner_of_caller(sessions, number, region),
                            set_agent_state=agent_state)
