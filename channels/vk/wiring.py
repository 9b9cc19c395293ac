"""``vk_connector(hub)``: the Callback API connector feeding the VK service."""

from __future__ import annotations


def vk_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from channels.vk.service import VkService
    from connectors.vk.connector import VkConnector
    from crm_core.connector_state import DbCheckpoint

    s = hub.settings.vk
    service = VkService(hub.database.sessions, hub.intake, join_window_days=s.join_window_days)
    return VkConnector(s, service.handle, DbCheckpoint(hub.database.sessions))
