"""``whatsapp_connector(hub)``: the Cloud API connector feeding the WhatsApp service."""

from __future__ import annotations


def whatsapp_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from channels import outbox
    from channels.whatsapp.service import WhatsAppService, WindowCheck
    from channels.whatsapp.window import WindowRule
    from connectors.whatsapp.connector import WhatsAppConnector
    from crm_core.connector_state import DbCheckpoint

    s = hub.settings.whatsapp
    service = WhatsAppService(hub.database.sessions, hub.intake, join_window_days=s.join_window_days)
    outbox.REPLY_CHECKS["whatsapp"] = WindowCheck(WindowRule(s.window_hours, s.template_name))
    return WhatsAppConnector(s, service.handle, DbCheckpoint(hub.database.sessions),
                             files_dir=hub.var_dir / "attachments" / "whatsapp")
