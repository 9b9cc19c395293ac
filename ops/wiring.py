"""``VIEWS``: the administrator's backups page (the last good backup, a warning after two days without one).
Nothing to wire into the running hub: backups, restores, upgrades and the doctor are commands (ops/cli.py)."""

from __future__ import annotations

VIEWS = ("ops.views",)
