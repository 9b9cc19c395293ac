"""Outside ids a webhook has handled lately: a bounded set of strings, oldest forgotten first.

Providers resend a webhook until it gets its answer (VK until "ok", Meta until a 200), so the same
event may come twice, or twice at once. The set keeps the last few thousand ids; an id it forgot is
handled again and the intake's unique ``(channel, external_id)`` stays the final guard. Pure: no I/O;
``to_json``/``from_json`` for the connector's checkpoint.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

MAX_IDS = 2000


class RecentIds:
    __slots__ = ("_ids", "max_ids")

    def __init__(self, ids: list[str] | None = None, *, max_ids: int = MAX_IDS) -> None:
        self.max_ids = max_ids
        self._ids: OrderedDict[str, None] = OrderedDict((str(i), None) for i in (ids or ())[-max_ids:])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, key: str) -> None:
        self._ids[key] = None
        self._ids.move_to_end(key)
        while len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)

    def to_json(self) -> list[str]:
        return list(self._ids)

    @classmethod
    def from_json(cls, value: Any, *, max_ids: int = MAX_IDS) -> RecentIds:  # noqa: ANN401 - stored JSON
        if not isinstance(value, list):
            return cls(max_ids=max_ids)
        return cls([v for v in value if isinstance(v, str)], max_ids=max_ids)
