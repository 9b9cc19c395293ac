"""``wire(hub)``: the webhooks' recorder on every instance (``hub.connectors["webhooks"]``: the bus's events into
the outbox) and their sender on one (``hub.connectors["webhooks_sender"]``, under leadership on PostgreSQL);
``VIEWS``: the administrator's pages."""

from __future__ import annotations

from webhooks.calls import CallWatcher
from webhooks.payloads import PRODUCES
from webhooks.recorder import Recorder
from webhooks.sender import Sender
from webhooks.settings import WebhookSettings

VIEWS = ("webhooks.views",)


def settings_of(hub) -> WebhookSettings:  # noqa: ANN001 - bootstrap.Hub
    return getattr(hub.settings, "webhooks", None) or WebhookSettings()


def wire(hub) -> Recorder | None:  # noqa: ANN001 - bootstrap.Hub
    settings = settings_of(hub)
    if not settings.enabled:
        return None
    recorder = Recorder(hub.database.sessions, settings)
    sender = Sender(hub.database.sessions, settings, recorder)
    recorder.sender, recorder.wake_sender = sender, sender.poke
    for event_type in PRODUCES:
        hub.bus.subscribe_inline(event_type, recorder.take)
    hub.connectors["webhooks"] = recorder
    dsn = hub.pg_dsn
    if dsn is not None:
        from bus.leader import LedConnector

        hub.connectors["webhooks_sender"] = LedConnector(sender, dsn, "hub:webhooks", hub.instance,
                                                         **hub.settings.cluster.leader_timing)
    else:
        hub.connectors["webhooks_sender"] = sender
    if hub.telephony is not None:
        watcher = CallWatcher(hub.telephony, recorder.take)
        hub.telephony.add_listener(watcher.on_event, watcher.on_rebuilt)
    return recorder


def service_of(hub) -> Recorder | None:  # noqa: ANN001
    found = hub.connectors.get("webhooks")
    return found if isinstance(found, Recorder) else None
