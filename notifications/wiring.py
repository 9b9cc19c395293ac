"""``wire(hub)``: the notifier on ``hub.connectors["notifications"]`` (also reachable by the web pages),
its subscription to the bus pushes, and its senders (the hub's bot, the SMTP server when email is on); the
clients' SMS through the SMS outbox when ``[sms]`` is on."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bus.events import Push
from notifications.client_sms import ClientSms, SmsRules
from notifications.dates import DateScheduler
from notifications.notifier import Notifier, Sender
from notifications.planned import PlannedDayScheduler
from notifications.senders import EmailSender, TelegramSender
from notifications.service import NotificationService
from notifications.settings import NotificationSettings
from routing.calendar import WorkCalendar

VIEWS = ("notifications.views", "notifications.views_sms")


def settings_of(hub) -> NotificationSettings:  # noqa: ANN001 - bootstrap.Hub
    return getattr(hub.settings, "notifications", None) or NotificationSettings()


def build(hub, settings: NotificationSettings | None = None) -> NotificationService:  # noqa: ANN001
    settings = settings or settings_of(hub)
    senders: dict[str, Sender] = {}
    if "telegram" in hub.connectors:
        senders["telegram"] = TelegramSender(lambda: hub.connectors.get("telegram"))
    email = hub.settings.email
    if email.enabled:
        from connectors.email.smtp import SmtpSender

        senders["email"] = EmailSender(SmtpSender(email), email.from_address.rpartition("@")[2] or "localhost")
    routing = getattr(hub.settings, "routing", None)
    work = WorkCalendar(routing.hours if routing is not None else None)
    notifier = Notifier(hub.database.sessions, hub.bus.publish, senders=senders,
                        retry_delays=settings.retry_delays_s, public_url=settings.public_url, work=work)
    dates = DateScheduler(notifier, work, default_lead_days=settings.default_lead_days,
                          late_days=settings.greeting_late_days, agency_name=settings.agency_name,
                          may_greet=_marketing_gate(hub))
    client_sms = ClientSms(hub.database.sessions, lambda: sms_rules(hub, settings), hub.outbox_wakeup.set)
    return NotificationService(notifier, dates, poll_s=settings.poll_s, enabled=settings.enabled,
                               planned=PlannedDayScheduler(notifier, work), client_sms=client_sms)


def sms_rules(hub, settings: NotificationSettings) -> SmsRules | None:  # noqa: ANN001
    """The clients' SMS rules, or None while no SMS connector runs (``[sms] enabled``)."""
    if "sms" not in hub.connectors:
        return None
    sms = hub.settings.sms
    return SmsRules(agency=settings.agency_name, zone=ZoneInfo(hub.settings.time_zone), daily_cap=sms.daily_cap,
                    max_text=sms.max_text, viewings=settings.sms_viewing_reminders,
                    lead=timedelta(hours=settings.sms_viewing_lead_hours), callbacks=settings.sms_callbacks,
                    day_start=settings.sms_day_start, day_end=settings.sms_day_end)


def _marketing_gate(hub):  # noqa: ANN001, ANN202
    """Greetings are marketing: with ``[privacy] marketing_needs_consent`` only clients who agreed get one."""
    privacy = getattr(hub.settings, "privacy", None)
    if privacy is None or not privacy.enabled or not privacy.marketing_needs_consent:
        return None
    from privacy.queries import has_consent

    return lambda s, client_id: has_consent(s, client_id, "marketing")


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    settings = settings_of(hub)
    service = build(hub, settings)
    hub.connectors["notifications"] = service
    if settings.enabled:
        hub.bus.subscribe(Push, service.pushes.on_push)


def service_of(hub) -> NotificationService | None:  # noqa: ANN001
    found = hub.connectors.get("notifications")
    return found if isinstance(found, NotificationService) else None
