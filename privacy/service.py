"""The privacy capability's running parts.

``PrivacyService`` (every instance): the access log's writer and clients' exports in progress.
``PrivacyJobs`` (the leader only, ``bus.leader.LedConnector`` on PostgreSQL): the daily retention run, the
hourly look for unusual reading and the removal of old export files; each reports to admins and the DPO.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bus.tasks import TaskSupervisor
from crm_core import audit
from crm_core.models import utcnow
from privacy import queries
from privacy.access import AccessLog
from privacy.export import collect, write_zip
from privacy.files import FileRoots
from privacy.masking import mask_phone, policy_from
from privacy.retention import Retention, RetentionReport
from privacy.settings import PrivacySettings

log = logging.getLogger("hub.privacy")
Notify = Callable[[list[int], str, str, str], Awaitable[None]]  # (user ids, text, url, dedup key)


@dataclass
class ExportJob:
    token: str
    client_id: int
    actor_id: int
    started: float
    done: int = 0
    total: int = 1
    state: str = "running"  # running | ready | failed
    path: Path | None = None

    @property
    def percent(self) -> int:
        return 100 if self.state == "ready" else int(100 * self.done / max(1, self.total))


class PrivacyService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: PrivacySettings, roots: FileRoots) -> None:
        self.sessions, self.settings, self.roots = sessions, settings, roots
        self.access = AccessLog(sessions, flush_s=settings.access_flush_s, max_buffer=settings.access_buffer)
        self.exports: dict[str, ExportJob] = {}
        self.policy = policy_from(settings.masked_roles, settings.masked_departments)
        self.roles: dict[int, str] = {}  # user id → role, for the pop-up's hidden numbers (re-read every minute)
        self._tasks = TaskSupervisor()

    @property
    def state(self) -> str:
        return self.access.state

    @property
    def export_dir(self) -> Path:
        return self.roots.var_dir / "privacy" / "exports"

    async def start(self) -> None:
        self._tasks = TaskSupervisor()
        await self.access.start()
        if self.policy.active:
            await self._read_roles()
            self._tasks.spawn("privacy-roles", self._roles_loop())

    async def _read_roles(self) -> None:
        async with self.sessions() as s:
            self.roles = await queries.staff_roles(s)

    async def _roles_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            try:
                await self._read_roles()
            except Exception as exc:  # noqa: BLE001 - the last known roles stay
                log.warning("staff roles not re-read: %s", type(exc).__name__)

    def shown_number(self, agent, number: str | None) -> str | None:  # noqa: ANN001 - telephony.call_log.Agent
        """The caller's number on an agent's pop-up: masked for a masked role (or while the role is unknown)."""
        if not number or not self.policy.active:
            return number
        role = self.roles.get(agent.user_id)
        if role is None:
            return mask_phone(number)
        return self.policy.shown(number, role, agent.department_id)

    async def stop(self) -> None:
        await self._tasks.stop()
        await self.access.stop()

    def start_export(self, client_id: int, actor_id: int) -> ExportJob:
        job = ExportJob(secrets.token_urlsafe(18), client_id, actor_id, time.time())
        self.exports[job.token] = job
        self._tasks.spawn(f"privacy-export-{client_id}", self._export(job))
        return job

    async def _export(self, job: ExportJob) -> None:
        try:
            async with self.sessions() as s:
                data = await collect(s, self.roots, job.client_id)
            job.total = len(data.sections) + len(data.files) + 1

            def progress(done: int, total: int) -> None:
                job.done, job.total = done, total

            stamp = utcnow().strftime("%Y%m%d-%H%M%S")
            target = self.export_dir / f"client-{job.client_id}-{stamp}-{job.token[:8]}.zip"
            job.path = await asyncio.to_thread(write_zip, data, target, progress)
            async with self.sessions() as s, s.begin():
                await audit.record(s, job.actor_id, "privacy.export", f"client:{job.client_id}",
                                   {"files": len(data.files)})
            self.access.note(job.actor_id, "client_export", client_id=job.client_id, ref=f"client:{job.client_id}")
            job.state = "ready"
            log.info("client %s exported by user=%s files=%d", job.client_id, job.actor_id, len(data.files))
        except Exception:
            job.state = "failed"
            log.exception("export of client %s failed", job.client_id)


class PrivacyJobs:
    """Daily retention at ``[privacy.retention] hour`` (agency time), unusual reading every ``check_every_s``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: PrivacySettings, roots: FileRoots, *,
                 zone: str, notify: Notify | None, instance: str = "") -> None:
        self.sessions, self.settings, self.roots = sessions, settings, roots
        self.zone = ZoneInfo(zone)
        self.notify = notify
        self.retention = Retention(sessions, settings.retention, roots, instance=instance)
        self.last_report: RetentionReport | None = None
        self._tasks = TaskSupervisor()
        self._running = False

    @property
    def state(self) -> str:
        return "running" if self._running else "stopped"

    async def start(self) -> None:
        self._tasks = TaskSupervisor()
        self._running = True
        self._tasks.spawn("privacy-retention", self._daily())
        self._tasks.spawn("privacy-watch", self._watch())

    async def stop(self) -> None:
        self._running = False
        await self._tasks.stop()

    def next_run(self, now: datetime) -> datetime:
        local = now.astimezone(self.zone)
        at = local.replace(hour=self.settings.retention.hour, minute=0, second=0, microsecond=0)
        return at if at > local else at + timedelta(days=1)

    async def _daily(self) -> None:
        while True:
            now = utcnow()
            await asyncio.sleep(max(1.0, (self.next_run(now) - now).total_seconds()))
            try:
                await self.run_retention()
            except Exception:  # noqa: BLE001 - the next day tries again
                log.exception("retention run failed")

    async def run_retention(self, *, dry_run: bool = False) -> RetentionReport:
        report = await self.retention.run(dry_run=dry_run)
        self.last_report = report
        await asyncio.to_thread(self._old_exports)
        if self.notify is not None and not dry_run and any(report.rows.values()):
            async with self.sessions() as s:
                people = await queries.admins_and_dpo(s)
            parts = ", ".join(f"{k}: {v}" for k, v in report.rows.items() if v)
            await self.notify(people, f"Хранение данных: обработано по сроку — {parts}; файлов удалено: "
                              f"{report.files}", "/privacy", f"privacy:retention:{utcnow():%Y-%m-%d}")
        return report

    def _old_exports(self) -> None:
        folder = self.roots.var_dir / "privacy" / "exports"
        if not folder.is_dir():
            return
        limit = time.time() - self.settings.exports_keep_h * 3600
        for f in folder.iterdir():
            if f.is_file() and f.stat().st_mtime < limit:
                f.unlink(missing_ok=True)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_every_s)
            try:
                await self.check_unusual()
            except Exception:  # noqa: BLE001 - the next pass tries again
                log.exception("unusual reading check failed")

    async def check_unusual(self, now: datetime | None = None) -> list[tuple[int, int, float]]:
        """Users who opened far more cards in the last hour than usual: (user, cards, usual per hour)."""
        now = now or utcnow()
        hour_ago, past = now - timedelta(hours=1), now - timedelta(days=14)
        async with self.sessions() as s:
            last = await queries.card_views_per_user(s, hour_ago, now)
            before = await queries.card_views_per_user(s, past, hour_ago)
            people = await queries.admins_and_dpo(s)
        s_ = self.settings
        found = []
        for user_id, n in sorted(last.items()):
            usual = before.get(user_id, 0) / (14 * 8)  # per working hour over two weeks
            if n >= s_.unusual_min_cards and n >= s_.unusual_factor * max(usual, 1.0):
                found.append((user_id, n, usual))
        for user_id, n, usual in found:
            log.warning("unusual reading: user=%s opened %d cards in an hour (usual %.1f)", user_id, n, usual)
            if self.notify is not None:
                await self.notify(people, f"Необычно много просмотров: сотрудник №{user_id} открыл {n} карточек "
                                  f"клиентов за час (обычно около {usual:.0f})",
                                  f"/privacy/access?user_id={user_id}",
                                  f"privacy:unusual:{user_id}:{now:%Y-%m-%dT%H}")
        return found
