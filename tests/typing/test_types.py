"""Typing can only get better: the pure cores pass ``mypy --strict``, and no other file gains mypy errors
over tests/typing/mypy_baseline.json (regenerate it with ``python3 scripts/mypy-baseline.py``)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import missing_part
from tests.typing.mypy_counts import ERROR, read_baseline, run_default, run_strict


@pytest.fixture(autouse=True)
def _mypy_installed() -> None:
    if importlib.util.find_spec("mypy") is None:
        missing_part("mypy is not installed (pip install -e '.[test]')")


def test_pure_cores_pass_mypy_strict() -> None:
    done = run_strict()
    assert done.returncode == 0, f"mypy --strict found errors in the pure cores:\n{done.stdout}"


def test_no_file_has_more_mypy_errors_than_its_baseline() -> None:
    counts, output = run_default()
    baseline = read_baseline()
    worse = {path: (baseline.get(path, 0), n) for path, n in counts.items() if n > baseline.get(path, 0)}
    better = {path: (n, counts.get(path, 0)) for path, n in baseline.items() if counts.get(path, 0) < n}
    lower = ""
    if better:
        lower = ("\nFewer errors than the baseline (good: lower it with `python3 scripts/mypy-baseline.py`): "
                 + ", ".join(f"{p} {was}→{now}" for p, (was, now) in better.items()))
        print(lower.strip())
    lines = "\n".join(line for line in output.splitlines()
                      if (m := ERROR.match(line)) and m["path"].replace("\\", "/") in worse)
    assert not worse, (
        "mypy finds more errors than the baseline in: "
        + ", ".join(f"{p} ({was} → {now})" for p, (was, now) in worse.items())
        + f"\n{lines}{lower}"
    )
