"""``imap_connector(hub)``: the mailbox's connector feeding the intake; ``VIEWS``: the admin page of
quarantined and system mail."""

from __future__ import annotations

VIEWS = ("channels.email.views",)


def mail_intake(hub):  # noqa: ANN001, ANN201 - bootstrap.Hub
    """The hub's one mail handler (also used by the admin page when the mailbox itself is off)."""
    from channels.email.service import MailIntake

    if getattr(hub, "mail", None) is None:
        hub.mail = MailIntake(hub.database.sessions, hub.intake, hub.var_dir)
    return hub.mail


def imap_connector(hub):  # noqa: ANN001, ANN202 - bootstrap.Hub
    """Mail in: parse off the event loop, keep attachments on disk, then the intake service; a message that
    cannot be stored is quarantined and the mailbox goes on."""
    from connectors.email.imap import ImapConnector
    from crm_core.connector_state import DbCheckpoint

    mail = mail_intake(hub)
    return ImapConnector(hub.settings.email, mail.receive, DbCheckpoint(hub.database.sessions),
                         on_connected=mail.refresh)
