"""The ``[workflow]`` settings section: the starting values; administrators change them in the workspace
(stored in ``workflow_settings``, which then wins)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModerationRules(BaseModel):
    """Which new requests wait for a moderator: by channel (webform, email, telegram, manual, visit, call),
    by source (a web form's utm_source or site, an email's or a call's source) or by a web form's site."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()

    def needs_moderation(self, channel: str, source: str | None, site: str | None) -> bool:
        low = lambda v: (v or "").strip().lower()  # noqa: E731
        return (low(channel) in {low(c) for c in self.channels}
                or (bool(source) and low(source) in {low(s) for s in self.sources})
                or (bool(site) and low(site) in {low(s) for s in self.sites}))


class QcRule(BaseModel):
    """The sampling rule of the quality-control queue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    percent: float = Field(10.0, ge=0, le=100)
    """Share of each agent's closed inquiries and answered calls of a week put in the queue."""
    inquiries: bool = True
    calls: bool = True
    speech_flags: bool = True
    """Calls flagged by speech analytics go to the queue too."""


class WorkflowSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    moderation: ModerationRules = ModerationRules()
    qc: QcRule = QcRule()
    refresh_s: float = Field(30.0, gt=0, le=3600)
    """How often each instance re-reads the rules administrators changed (and samples the QC queue)."""
