"""The ``[backup]`` section: where ``hub backup`` writes, how many backups it keeps, when to warn."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class BackupSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dir: Path | None = Field(default=None, description="Where `hub backup` writes when no DEST is given")
    keep: int = Field(default=14, ge=1, description="Backups kept in that folder; older ones are removed "
                      "after a new one is complete")
    warn_after_hours: float = Field(default=48.0, gt=0, description="/healthz and the admin's page warn when "
                                    "the last good backup is older than this")
    extra_dirs: tuple[Path, ...] = Field(default=(), description="More folders to keep in every backup")
    min_free_mb: int = Field(default=1024, ge=0, description="`hub doctor` warns below this free space")
