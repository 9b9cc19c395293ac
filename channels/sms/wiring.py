"""``sms_connector(hub)`` and ``sms_sender(hub)``: SMS.ru for the outbox, its reports into the database."""

from __future__ import annotations


def sms_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from channels.sms.service import SmsRecords
    from connectors.sms.connector import SmsRuConnector

    return SmsRuConnector(hub.settings.sms, SmsRecords(hub.database.sessions).report)


def sms_sender(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    from channels.sms.service import SmsRecords
    from connectors.sms.connector import SmsChannel

    return SmsChannel(hub.connectors["sms"], SmsRecords(hub.database.sessions).cost)
