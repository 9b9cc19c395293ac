"""``webforms_connector(hub)``: the public form endpoint feeding the intake. While the database is
unreachable a form is answered 503 with ``Retry-After`` (never 2xx), so the site posts it again."""

from __future__ import annotations


def webforms_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    from connectors.webforms.connector import WebFormsConnector
    from connectors.webforms.errors import WebFormError
    from connectors.webforms.events import FormOutcome, FormReceived
    from crm_core.intake import IntakeRequest
    from crm_core.models import Channel

    async def on_form(form: FormReceived) -> FormOutcome:
        try:
            return await store(form)
        except (DBAPIError, OSError, TimeoutError) as exc:
            if isinstance(exc, DBAPIError) and not (exc.connection_invalidated or
                                                    isinstance(exc, OperationalError | InterfaceError)):
                raise  # the database answered and refused: not a matter of posting again
            raise WebFormError(503, f"база данных недоступна, повторите / database unavailable, retry "
                                    f"({type(exc).__name__})", headers={"Retry-After": "5"}) from None

    from telephony.ad_sources import UtmTable

    hub.utm_table = table = UtmTable(hub.database.sessions)

    async def mapped_source(utm: dict) -> str | None:
        """The source the admin named for this UTM label (the «Источники звонков» page), None when unnamed."""
        return await table.source_for(utm.get("utm_source"), utm.get("utm_campaign")) if utm.get("utm_source") \
            else None

    async def store(form: FormReceived) -> FormOutcome:
        result = await hub.intake.accept(IntakeRequest(
            channel=Channel.WEBFORM, external_id=form.external_id, name=form.name, phone=form.phone,
            email=form.email, text=form.message, subject=(form.message.splitlines() or [""])[0][:120] or None,
            source=await mapped_source(form.utm) or form.utm.get("utm_source") or form.site, utm=dict(form.utm),
            meta={"site": form.site, "page_url": form.page_url, "referrer": form.referrer, "ip": form.client_ip,
                  **({"listing": dict(form.listing)} if form.listing else {})},
        ))
        if form.consents and not result.duplicate:  # the consent boxes ticked on the site (privacy/)
            from privacy.queries import record_consents

            async with hub.database.sessions() as s, s.begin():
                await record_consents(s, result.client_id, form.consents, source="webform",
                                      source_ref=(form.page_url or form.site)[:300])
        return FormOutcome(result.inquiry_id, result.duplicate)

    return WebFormsConnector(hub.settings.webforms, on_form)
