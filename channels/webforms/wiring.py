"""``webforms_connector(hub)``: the public form endpoint feeding the intake."""

from __future__ import annotations


def webforms_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from connectors.webforms.connector import WebFormsConnector
    from connectors.webforms.events import FormOutcome, FormReceived
    from crm_core.intake import IntakeRequest
    from crm_core.models import Channel

    async def on_form(form: FormReceived) -> FormOutcome:
        result = await hub.intake.accept(IntakeRequest(
            channel=Channel.WEBFORM, external_id=form.external_id, name=form.name, phone=form.phone,
            email=form.email, text=form.message, subject=(form.message.splitlines() or [""])[0][:120] or None,
            source=form.utm.get("utm_source") or form.site, utm=dict(form.utm),
            meta={"site": form.site, "page_url": form.page_url, "referrer": form.referrer, "ip": form.client_ip},
        ))
        return FormOutcome(result.inquiry_id, result.duplicate)

    return WebFormsConnector(hub.settings.webforms, on_form)
