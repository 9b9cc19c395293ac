"""``wire(hub)``: the access log writer and exports on ``hub.connectors["privacy"]`` (every instance) and the
daily retention with the unusual-reading watch on ``hub.connectors["privacy_jobs"]`` (the leader only)."""

from __future__ import annotations

from privacy.files import FileRoots
from privacy.masking import MaskPolicy, policy_from
from privacy.service import PrivacyJobs, PrivacyService
from privacy.settings import PrivacySettings

VIEWS = ("privacy.views", "privacy.views_client")


def settings_of(hub) -> PrivacySettings:  # noqa: ANN001 - bootstrap.Hub
    return getattr(hub.settings, "privacy", None) or PrivacySettings()


def mask_policy(hub) -> MaskPolicy:  # noqa: ANN001
    s = settings_of(hub)
    return policy_from(s.masked_roles, s.masked_departments)


def jobs(hub) -> PrivacyJobs:  # noqa: ANN001
    async def notify(user_ids: list[int], text: str, url: str, dedup_key: str) -> None:
        from notifications.wiring import service_of as notifications_of

        service = notifications_of(hub)
        if service is not None:
            await service.notifier.notify("privacy", user_ids, text, url, dedup_key=dedup_key)

    return PrivacyJobs(hub.database.sessions, settings_of(hub), FileRoots.of(hub), zone=hub.settings.time_zone,
                       notify=notify, instance=hub.instance)


def wire(hub) -> None:  # noqa: ANN001 - bootstrap.Hub
    settings = settings_of(hub)
    if not settings.enabled:
        return
    service = PrivacyService(hub.database.sessions, settings, FileRoots.of(hub))
    hub.connectors["privacy"] = service
    if hub.telephony is not None and service.policy.active:
        hub.telephony.shown_number = service.shown_number  # the pop-up shows the number as the agent may see it
    job_runner = jobs(hub)
    dsn = hub.pg_dsn
    if dsn is not None:
        from bus.leader import LedConnector

        hub.connectors["privacy_jobs"] = LedConnector(job_runner, dsn, "hub:privacy", hub.instance,
                                                      **hub.settings.cluster.leader_timing)
    else:
        hub.connectors["privacy_jobs"] = job_runner


def service_of(hub) -> PrivacyService | None:  # noqa: ANN001
    found = hub.connectors.get("privacy")
    return found if isinstance(found, PrivacyService) else None


def jobs_of(hub) -> PrivacyJobs | None:  # noqa: ANN001
    found = hub.connectors.get("privacy_jobs")
    found = getattr(found, "connector", found)
    return found if isinstance(found, PrivacyJobs) else None
