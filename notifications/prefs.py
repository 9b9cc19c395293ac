"""Which kinds of notice exist, the channels, and each user's choice (defaults when none is stored)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.models import utcnow
from crm_core.models.notifications import NotificationPrefs

KINDS = ("routing", "sla", "callback", "dates", "analytics")
CHANNELS = ("browser", "telegram", "email")
DEFAULTS: dict[str, tuple[str, ...]] = {
    "routing": ("browser", "telegram"),
    "sla": ("browser", "telegram"),
    "callback": ("browser", "telegram"),
    "dates": ("browser", "telegram", "email"),
    "analytics": ("browser",),
}


def channels_for(stored: dict | None, kind: str) -> tuple[str, ...]:
    """The channels a user gets this kind on; a kind they never chose falls back to the default."""
    if stored and kind in stored:
        return tuple(c for c in stored[kind] if c in CHANNELS)
    return DEFAULTS.get(kind, ("browser",))


async def load_prefs(s: AsyncSession, user_ids: Iterable[int]) -> dict[int, dict]:
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await s.execute(select(NotificationPrefs.user_id, NotificationPrefs.channels)
                           .where(NotificationPrefs.user_id.in_(ids)))
    return {uid: dict(channels or {}) for uid, channels in rows.all()}


async def save_prefs(s: AsyncSession, user_id: int, choice: dict[str, list[str]]) -> dict[str, list[str]]:
    clean = {k: [c for c in CHANNELS if c in choice.get(k, ())] for k in KINDS}
    row = await s.get(NotificationPrefs, user_id)
    if row is None:
        s.add(NotificationPrefs(user_id=user_id, channels=clean, updated_at=utcnow()))
    else:
        row.channels, row.updated_at = clean, utcnow()
    return clean
