"""Where a client's files are on disk: call recordings (as the PBX wrote the path) and mail attachments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class FileRoots:
    var_dir: Path
    recordings_dirs: tuple[Path, ...] = ()

    @classmethod
    def of(cls, hub) -> FileRoots:  # noqa: ANN001 - bootstrap.Hub
        dirs = [getattr(hub.telephony, "recordings_dir", None), hub.settings.asterisk.recordings_dir]
        return cls(Path(hub.settings.storage.var_dir), tuple(Path(d) for d in dirs if d))

    def recording(self, stored: str | None) -> Path | None:
        """The recording's file the hub can see: the stored path, or its name under a recordings folder."""
        if not stored:
            return None
        path = Path(stored)
        candidates = [path] if path.is_absolute() else []
        candidates += [base / (path.name if path.is_absolute() else path) for base in self.recordings_dirs]
        return next((c for c in candidates if c.is_file()), None)

    def attachment(self, ref: dict) -> Path | None:
        rel = ref.get("path") if isinstance(ref, dict) else None
        if not rel:
            return None
        root = (self.var_dir / "attachments").resolve()
        target = (root / str(rel)).resolve()
        return target if target.is_relative_to(root) and target.is_file() else None


def remove(paths: list[Path]) -> int:
    """Delete the files (run in a thread); a file already gone counts as removed."""
    n = 0
    for p in paths:
        try:
            p.unlink()
            n += 1
        except FileNotFoundError:
            n += 1
        except OSError:
            continue
    return n
