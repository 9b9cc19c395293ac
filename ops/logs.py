"""Logging set-up: plain lines (the default) or JSON lines for journald/Loki, and a level per component.

    [log]
    level = "INFO"
    format = "json"
    levels = { "hub.telephony" = "DEBUG", "aiohttp.access" = "WARNING" }

One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, the ids a call passed
with ``extra=`` and ``exc`` for a traceback. Messages are the hub's own (ids, never personal data).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime",
                                                                                      "taskName"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HANDLER_NAME = "hub-stderr"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure(level: str, fmt: str = "text", levels: Mapping[str, str] | None = None) -> None:
    """Put the hub's handler on stderr (replacing the one an earlier call put) and set each component's level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:  # ours from an earlier call only
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    defaults = {"aiohttp.access": "WARNING", "alembic": "WARNING"}
    for name, value in {**defaults, **(levels or {})}.items():
        logging.getLogger(name).setLevel(value)
