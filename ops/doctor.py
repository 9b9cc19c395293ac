"""``hub doctor``: is this hub set up to run? Settings, database, disk, PBX, mail, bot, calendar, speech.

Each check prints one line (``ok``, ``warn`` or ``FAIL``, what was found, what to do); the exit status is 1
when any check failed. Nothing is changed: the database is only read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from datetime import date
from pathlib import Path

from config.settings import Settings
from ops.doctor_checks import check_mail, check_pbx, check_telegram
from ops.doctor_core import Check, fail, ok, warn

LOW_DISK_FAIL_MB = 100
log = logging.getLogger("hub.ops.doctor")


def check_settings(settings: Settings, settings_file: str | None) -> list[Check]:
    found = [ok("settings", f"read from {settings_file}" if settings_file else "defaults and HUB_* only")]
    w = settings.web
    if w.public_url and w.public_url.startswith("https://") and not w.secure_cookies:
        found.append(warn("settings", "behind HTTPS but cookies are not Secure",
                          "set [web] secure_cookies = true"))
    if w.public_url and w.host not in ("127.0.0.1", "::1", "localhost") and not w.trusted_proxies:
        found.append(warn("settings", f"the web listens on {w.host} with no trusted proxy",
                          "listen on 127.0.0.1 behind the proxy and set [web] trusted_proxies = [\"127.0.0.1\"]"))
    return found


async def check_database(settings: Settings) -> list[Check]:
    from crm_core.db import create_engine, is_sqlite
    from ops.upgrade import pending_of, stored_revisions, too_new

    engine = create_engine(settings.database)
    backend = "SQLite" if is_sqlite(settings.database.url) else "PostgreSQL"
    try:
        async with asyncio.timeout(10):
            stored = await stored_revisions(engine)
    except Exception as exc:  # noqa: BLE001 - the reason is shown, without the address
        reason = type(exc).__name__ + (f": {str(exc).splitlines()[0][:160]}" if "://" not in str(exc) else "")
        return [fail("database", f"{backend} unreachable ({reason})",
                     "check [database] url, HUB_DATABASE__PASSWORD and that the server runs")]
    finally:
        await engine.dispose()
    if stored is None:
        return [warn("database", f"{backend} reachable, no schema yet", "the first `hub run` (or `hub migrate`) "
                     "creates it")]
    newer = too_new(stored)
    if newer:
        return [fail("database", f"schema {', '.join(sorted(newer))} is newer than this hub",
                     "run the hub version that migrated it")]
    pending = pending_of(stored)
    if pending:
        return [warn("database", f"{backend} reachable, {len(pending)} migration(s) pending",
                     "see `hub upgrade --check`; `hub upgrade` (after `hub backup`) applies them")]
    return [ok("database", f"{backend} reachable, schema current")]


def _folders(settings: Settings) -> list[tuple[str, Path, bool]]:
    """(name, folder, the hub writes there)."""
    found = [("data", Path(settings.storage.var_dir), True)]
    if settings.backup.dir is not None:
        found.append(("backups", Path(settings.backup.dir), True))
    if settings.speech.recordings_dir is not None:
        found.append(("speech recordings", Path(settings.speech.recordings_dir), False))
    return found


def check_disk(settings: Settings) -> list[Check]:
    found = []
    for name, folder, writes in _folders(settings):
        if not folder.is_dir():
            found.append(fail(f"disk {name}", f"{folder} does not exist",
                              f"create it: install -d -o contact-hub -m 0750 {folder}"))
            continue
        if writes and not os.access(folder, os.W_OK | os.X_OK):
            found.append(fail(f"disk {name}", f"{folder} is not writable by this user",
                              f"chown contact-hub: {folder}"))
            continue
        free_mb = shutil.disk_usage(folder).free // (1 << 20)
        if free_mb < LOW_DISK_FAIL_MB:
            found.append(fail(f"disk {name}", f"{free_mb} MB free in {folder}", "free some space now"))
        elif free_mb < settings.backup.min_free_mb:
            found.append(warn(f"disk {name}", f"{free_mb} MB free in {folder}",
                              f"free space (warns below [backup] min_free_mb = {settings.backup.min_free_mb})"))
        else:
            found.append(ok(f"disk {name}", f"{free_mb:,} MB free in {folder}".replace(",", " ")))
    return found


async def check_calendar(settings: Settings, today: date | None = None) -> list[Check]:
    """The official production calendar has next year (shipped, or loaded into the database)."""
    from routing.calendar_files import official_calendar

    year = (today or date.today()).year + 1
    years = set(official_calendar(settings.routing.hours.production_calendar_dir).years)
    try:
        from crm_core.db import create_engine, session_factory
        from routing.calendar_service import stored_years

        engine = create_engine(settings.database)
        try:
            async with asyncio.timeout(10), session_factory(engine)() as s:
                years |= {y.year for y in await stored_years(s)}
        finally:
            await engine.dispose()
    except Exception as exc:  # noqa: BLE001 - the database check reports an unreachable database
        log.debug("calendar years in the database unread: %s", type(exc).__name__)
    if year in years:
        return [ok("calendar", f"official production calendar has {year}")]
    return [warn("calendar", f"no official production calendar for {year}: deadlines would use a guess",
                 f"load it when published: hub calendar load ru-{year}.xml")]


def check_speech(settings: Settings) -> list[Check]:
    path = settings.speech.model_path
    if path is None:
        return [ok("speech", "off (no [speech] model_path)")]
    if not path.is_dir():
        return [fail("speech", f"model folder {path} does not exist", "unpack the Vosk model there or unset "
                     "[speech] model_path")]
    if not any((path / part).exists() for part in ("am", "conf", "graph", "final.mdl")):
        return [fail("speech", f"{path} does not look like a Vosk model (no am/, conf/)",
                     "point [speech] model_path at the unpacked model's folder")]
    return [ok("speech", f"model at {path}")]


async def run_checks(settings: Settings, settings_file: str | None) -> list[Check]:
    found = check_settings(settings, settings_file)
    found += await check_database(settings)
    found += check_disk(settings)
    for group in await asyncio.gather(check_pbx(settings), check_mail(settings), check_telegram(settings)):
        found += group
    found += await check_calendar(settings)
    found += check_speech(settings)
    return found
