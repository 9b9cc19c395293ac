"""asyncpg, loaded on first use: the leader, the fan-out and the hand-off need it only on PostgreSQL, and a hub
on SQLite would otherwise carry it (~3 MB) for its whole life."""

from __future__ import annotations

from types import ModuleType


def asyncpg() -> ModuleType:
    import asyncpg as module

    return module
