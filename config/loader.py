"""Read settings from a TOML file and HUB_* environment variables.

Environment wins over the file. Nested keys use a double underscore:
``HUB_DATABASE__URL``, ``HUB_WEB__PORT``. Values in the environment are
parsed as JSON when they look like JSON (numbers, booleans, lists), else
kept as strings, and pydantic does the rest of the checking.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from config.settings import Settings

ENV_PREFIX = "HUB_"
CONFIG_ENV = "HUB_CONFIG"


class SettingsError(Exception):
    """A setting is wrong; the message names the key and why (never its secret value)."""


def load_settings(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    path = path or environ.get(CONFIG_ENV)
    data: dict[str, Any] = _read_toml(Path(path)) if path else {}
    for dotted, value in _env_overrides(environ):
        _set_dotted(data, dotted, value)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"config file {path}: not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: not valid TOML ({exc})") from None


def _env_overrides(environ: Mapping[str, str]) -> list[tuple[str, Any]]:
    found = []
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        dotted = name[len(ENV_PREFIX):].lower().replace("__", ".")
        found.append((dotted, _parse_env_value(raw)))
    return sorted(found)


def _parse_env_value(raw: str) -> Any:
    if raw[:1] in "[{" or raw in ("true", "false") or raw.lstrip("-").replace(".", "", 1).isdigit():
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    return raw


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SettingsError(f"{dotted}: {part} is not a section")
        node = child
    node[leaf] = value


def _describe(exc: ValidationError) -> str:
    """One line per wrong key, naming it and why, without echoing the value (it may be a secret)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"setting {key}: {reason}")
    return "; ".join(lines)
