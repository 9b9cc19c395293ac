"""Runs mypy for tests/typing/test_types.py and scripts/mypy-baseline.py: the strict pure cores, and the
error count per file of the default (non-strict) run that the committed baseline holds."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASELINE = Path(__file__).resolve().parent / "mypy_baseline.json"
CACHE = ROOT / "var" / "mypy-cache"  # var/ is ignored by git, ruff and mypy; a warm cache makes a run a few seconds
TIMEOUT_S = 100

# Pure cores (values in, values out) that pass ``mypy --strict``. Their imports are followed silently, so an
# error in an imported module does not count against them.
STRICT = (
    "routing/decide.py", "routing/model.py", "routing/match.py", "routing/rules.py", "routing/strategies.py",
    "routing/sla.py", "routing/agents.py", "routing/duty.py", "routing/territory.py", "routing/text.py",
    "routing/calendar.py", "routing/calendar_files.py", "telephony/calls.py", "telephony/model.py",
    "telephony/record.py", "telephony/originate.py", "telephony/state.py",
    "connectors/asterisk/protocol.py", "connectors/asterisk/events.py", "connectors/email/parse.py",
    "connectors/email/html_text.py", "connectors/telegram/translate.py", "connectors/webforms/parsing.py",
    "callfeed/state.py",
    "connectors/audiosocket/protocol.py", "speech/live_core.py", "webhooks/core.py",
)
# Everything else is held to the baseline at mypy's default level ([tool.mypy] in pyproject.toml).
CHECKED = (
    "agency", "api", "bus", "callfeed", "channels", "config", "connectors", "crm_core", "notifications", "ops",
    "privacy", "reports", "routing", "selfservice", "speech", "telephony", "wallboard", "web", "webhooks",
    "workflow", "bootstrap.py", "main.py",
)
ERROR = re.compile(r"^(?P<path>[^:\n]+\.pyi?):\d+(?::\d+)?: error:", re.MULTILINE)
STOPPED = "errors prevented further checking"


def run_mypy(targets: tuple[str, ...], *options: str, cache: str) -> subprocess.CompletedProcess[str]:
    """mypy over ``targets`` from the repository root, with the project's configuration; raises if mypy
    itself fails (exit 2: a crash, bad options, or a syntax error that stops the run)."""
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), "--cache-dir",
         str(CACHE / cache), "--no-color-output", "--no-pretty", "--no-error-summary", *options, *targets],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )
    if done.returncode not in (0, 1) or STOPPED in done.stdout:
        raise RuntimeError(f"mypy could not check the code (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def run_strict() -> subprocess.CompletedProcess[str]:
    return run_mypy(STRICT, "--strict", "--follow-imports=silent", cache="strict")


def error_counts(output: str) -> dict[str, int]:
    """Errors per file (repository-relative, with forward slashes) in mypy's output."""
    return dict(sorted(Counter(Path(m["path"]).as_posix() for m in ERROR.finditer(output)).items()))


def run_default() -> tuple[dict[str, int], str]:
    """The default-level run over everything: errors per file, and mypy's output."""
    done = run_mypy(CHECKED, cache="default")
    return error_counts(done.stdout), done.stdout


def read_baseline() -> dict[str, int]:
    files: dict[str, int] = json.loads(BASELINE.read_text(encoding="utf-8"))["files"]
    return files


def write_baseline(counts: dict[str, int]) -> None:
    data = {
        "about": "mypy errors per file at the default level; tests/typing/test_types.py lets none grow. "
                 "Regenerate with: python3 scripts/mypy-baseline.py",
        "total": sum(counts.values()),
        "files": counts,
    }
    BASELINE.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
