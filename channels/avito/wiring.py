"""``avito_connector(hub)``: the messenger connector feeding the Avito service."""

from __future__ import annotations


def avito_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from channels import outbox
    from channels.avito.service import AvitoService, ChatCheck
    from connectors.avito.connector import AvitoConnector
    from crm_core.connector_state import DbCheckpoint

    s = hub.settings.avito
    service = AvitoService(hub.database.sessions, hub.intake, listings=s.listings, join_window_days=s.join_window_days)
    outbox.REPLY_CHECKS["avito"] = ChatCheck()
    return AvitoConnector(s, service.handle, DbCheckpoint(hub.database.sessions))
