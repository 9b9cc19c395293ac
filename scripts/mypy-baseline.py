"""Rewrite tests/typing/mypy_baseline.json from a fresh default-level mypy run (the errors per file that
tests/typing/test_types.py lets no file exceed). Run from anywhere: python3 scripts/mypy-baseline.py"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.typing.mypy_counts import BASELINE, run_default, write_baseline  # noqa: E402

if __name__ == "__main__":
    counts, _ = run_default()
    write_baseline(counts)
    print(f"{BASELINE}: {sum(counts.values())} errors in {len(counts)} files")
