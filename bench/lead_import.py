"""Owner-lead import (the INTRUM process): 100,000 leads from a CSV file through the hub's importer — parsed,
checked, de-duplicated by address + owner phone, each a property, an owner client and a cold-call task — against
a bare SQLAlchemy loop inserting the same clients, contacts, properties and tasks (no checks), 1,000 rows per
transaction, as the importer writes them. Then the same file again: every row a repeat.

    python -m bench.lead_import [--quick]

Prints leads/s for both, their ratio, the time of the repeat import and the process's peak RSS growth.
"""

from __future__ import annotations

import asyncio
import csv
import io
import resource
import shutil
import time
from pathlib import Path

from sqlalchemy import insert

from agency.owner_lead_import import chunks_in_thread, import_owner_leads, read_lead_file
from bench.common import emit, parse_args
from config.settings import DatabaseSettings
from crm_core.db import create_engine, session_factory
from crm_core.migrate import migrate
from crm_core.models import Client, Contact, Department, Property, Task, utcnow

WORK = Path("var/bench/lead_import")
DISTRICTS = ("Хамовники", "Арбат", "Сокол", "Марьино", "Тверской", "Басманный")
KINDS = ("квартира", "комната", "дом")


def lead_csv(count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Адрес", "Телефон собственника", "Собственник", "Район", "Тип объекта", "Сделка", "Цена"])
    for n in range(count):
        writer.writerow([f"Москва, ул. Лесная, д. {n // 100 + 1}, кв. {n % 100 + 1}", f"+7925{n:07d}",
                         f"Собственник {n}", DISTRICTS[n % len(DISTRICTS)], KINDS[n % len(KINDS)],
                         "продажа" if n % 3 else "аренда", str(5_000_000 + 1_000 * (n % 5000))])
    return out.getvalue().encode()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def fresh(name: str):  # noqa: ANN201 - (engine, sessions, department id)
    engine = create_engine(DatabaseSettings(url=f"sqlite+aiosqlite:///{WORK / name}"))
    await migrate(engine)
    sessions = session_factory(engine)
    async with sessions() as s, s.begin():
        department = Department(name="Колл-центр")
        s.add(department)
        await s.flush()
        return engine, sessions, department.id


async def bare_loop(data: bytes) -> float:
    """The peer: the same rows, no parsing of Russian values, no checks, no de-duplication."""
    engine, sessions, department_id = await fresh("peer.sqlite3")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    started = time.perf_counter()
    for i in range(0, len(rows), 1000):
        chunk, now = rows[i:i + 1000], utcnow()
        async with sessions() as s, s.begin():
            client_ids = (await s.execute(insert(Client).returning(Client.id), [
                {"name": r["Собственник"], "kind": "person", "created_at": now} for r in chunk])).scalars().all()
            await s.execute(insert(Contact), [{"client_id": c, "kind": "phone", "value": r["Телефон собственника"],
                                               "created_at": now} for c, r in zip(client_ids, chunk, strict=True)])
            await s.execute(insert(Property), [
                {"address": r["Адрес"], "district": r["Район"], "owner_client_id": c, "archived": False}
                for c, r in zip(client_ids, chunk, strict=True)])
            await s.execute(insert(Task), [{"kind": "cold_call", "status": "open", "attempts": 0, "client_id": c,
                                            "phone": r["Телефон собственника"], "department_id": department_id,
                                            "created_at": now} for c, r in zip(client_ids, chunk, strict=True)])
    elapsed = time.perf_counter() - started
    await engine.dispose()
    return len(rows) / elapsed


async def run(quick: bool) -> dict:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    count = 10_000 if quick else 100_000
    data = lead_csv(count)
    engine, sessions, department_id = await fresh("hub.sqlite3")
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    report = await import_owner_leads(sessions, chunks_in_thread(read_lead_file(data, "leads.csv")),
                                      department_id=department_id)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = await import_owner_leads(sessions, chunks_in_thread(read_lead_file(data, "leads.csv")),
                                     department_id=department_id)
    repeat = time.perf_counter() - started
    await engine.dispose()
    rss_growth = peak_rss_mb() - rss_before  # the peer runs after: it holds the whole file as rows
    peer = await bare_loop(data)
    if report.created != count or again.created != 0:
        raise SystemExit(f"import went wrong: {report.created} created, then {again.created} on the repeat")
    return {"bench": "lead_import", "unit": "leads/s", "value": round(count / first, 1), "leads": count,
            "seconds": round(first, 2), "file_mb": round(len(data) / 2**20, 1), "repeat_seconds": round(repeat, 2),
            "repeats_found": again.duplicates, "rss_growth_mb": round(rss_growth, 1),
            "peer": "bare SQLAlchemy insert of the same rows, 1,000 per transaction", "peer_value": round(peer, 1)}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    result = asyncio.run(run(args.quick))
    print(f"{result['leads']} leads ({result['file_mb']} MB CSV): {result['seconds']} s, {result['value']} leads/s; "
          f"again (all repeats): {result['repeat_seconds']} s; peak RSS grew {result['rss_growth_mb']} MB")
    print(f"bare insert of the same rows: {result['peer_value']} rows/s")
    emit(result)


if __name__ == "__main__":
    main()
