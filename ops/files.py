"""Files in a backup: walk a folder, copy with a sha256 taken on the way, check a copy against its sum."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    area: str
    """Which data folder: ``var``, ``recordings``, ``speech``, ``extra0``…"""
    path: str
    """Relative to the area's folder, with forward slashes."""
    size: int
    sha256: str

    def as_dict(self) -> dict[str, object]:
        return {"area": self.area, "path": self.path, "size": self.size, "sha256": self.sha256}


def walk(root: Path, skip: frozenset[Path] = frozenset()) -> Iterator[tuple[Path, int]]:
    """Every regular file under ``root`` (its absolute path and size), in a stable order; the paths in
    ``skip`` (files or folders) and symbolic links are left out."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in skip and not (here / d).is_symlink())
        for name in sorted(files):
            path = here / name
            if path.is_symlink() or path.resolve() in skip:
                continue
            try:
                yield path, path.stat().st_size
            except FileNotFoundError:  # removed while walking (a temp file of the running hub)
                continue


def copy_with_sum(src: Path, dst: Path, progress: Callable[[int], None] = lambda n: None) -> tuple[int, str]:
    """Copy ``src`` to ``dst`` (parents made, fsynced), returning the bytes copied and their sha256."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as fin, dst.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            digest.update(chunk)
            fout.write(chunk)
            size += len(chunk)
            progress(len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
    return size, digest.hexdigest()


def sha256_of(path: Path, progress: Callable[[int], None] = lambda n: None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            progress(len(chunk))
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_empty_dir(path: Path, ignore: frozenset[Path] = frozenset()) -> bool:
    """True when ``path`` is missing or holds no file (the ``ignore`` paths do not count)."""
    return next(walk(path, ignore), None) is None
