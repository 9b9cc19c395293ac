"""Which update_ids the bot has handled: a bounded set, not a high-water mark.

Telegram delivers webhook updates over several connections at once, so 11 may arrive before 10, and it
never resends an update that got a 200: an id below the highest seen is not "already handled", it may be
new. The set remembers the last few thousand handled ids as runs of consecutive ids (update_ids are
consecutive, so a bot's whole history is usually one run ``[first, last]``), kept in the order they were
last extended; past the bound the least recently extended runs are forgotten first. An id forgotten, or
never seen, is handled again: the intake's unique ``(channel, external_id)`` stays the final guard against
a doubled message. Pure: no I/O; ``to_json``/``from_json`` for the checkpoint store.
"""

from __future__ import annotations

from typing import Any

MAX_IDS = 3000
"""Ids remembered at most (Telegram redelivers within minutes, and keeps an update 24 hours at most)."""
MAX_RUNS = 500
"""Runs kept at most, whatever their length: bounds the stored JSON when ids come with many gaps."""


class HandledUpdates:
    __slots__ = ("_runs", "max_ids", "max_runs")

    def __init__(self, runs: list[list[int]] | None = None, *, max_ids: int = MAX_IDS,
                 max_runs: int = MAX_RUNS) -> None:
        self._runs: list[list[int]] = [list(r) for r in runs or ()]  # [low, high] inclusive, oldest first
        self.max_ids = max_ids
        self.max_runs = max_runs

    def __contains__(self, update_id: object) -> bool:
        return isinstance(update_id, int) and any(low <= update_id <= high for low, high in self._runs)

    def __len__(self) -> int:
        return sum(high - low + 1 for low, high in self._runs)

    @property
    def runs(self) -> list[tuple[int, int]]:
        return [(low, high) for low, high in self._runs]

    def add(self, update_id: int) -> None:
        """Remember ``update_id``; the run it joins (or starts) becomes the most recent one."""
        if update_id in self:
            return
        below = next((r for r in self._runs if r[1] == update_id - 1), None)
        above = next((r for r in self._runs if r[0] == update_id + 1), None)
        if below is not None and above is not None:  # the id closes a gap: two runs become one
            self._runs.remove(below)
            self._runs.remove(above)
            run = [below[0], above[1]]
        elif below is not None:
            self._runs.remove(below)
            run = [below[0], update_id]
        elif above is not None:
            self._runs.remove(above)
            run = [update_id, above[1]]
        else:
            run = [update_id, update_id]
        self._runs.append(run)
        self._trim(keep=update_id)

    def _trim(self, keep: int | None = None) -> None:
        del self._runs[:max(0, len(self._runs) - self.max_runs)]
        excess = len(self) - self.max_ids
        while excess > 0:
            oldest = self._runs[0]
            size = oldest[1] - oldest[0] + 1
            if size <= excess:
                self._runs.pop(0)
                excess -= size
                continue
            kept = size - excess  # the run's upper end (within a run the lower ids came first) …
            low = oldest[1] - kept + 1
            if keep is not None and oldest[0] <= keep < low:  # … but never without the id just added
                low = keep
            oldest[0], oldest[1] = low, low + kept - 1
            excess = 0

    def to_json(self) -> list[list[int]]:
        return [list(r) for r in self._runs]

    @classmethod
    def from_json(cls, value: Any, *, max_ids: int = MAX_IDS,  # noqa: ANN401 - what the store held
                  max_runs: int = MAX_RUNS) -> HandledUpdates:
        """Runs as saved; anything unreadable (an older checkpoint, a hand edit) is an empty set, never an error."""
        runs = []
        if isinstance(value, list):
            for item in value:
                if (isinstance(item, list) and len(item) == 2 and all(type(x) is int for x in item)
                        and item[0] <= item[1]):
                    runs.append([item[0], item[1]])
        handled = cls(max_ids=max_ids, max_runs=max_runs)
        for low, high in runs:  # overlapping runs (a hand edit) are joined; the bounds hold again after
            joined = [r for r in handled._runs if r[0] <= high + 1 and r[1] >= low - 1]
            for r in joined:
                handled._runs.remove(r)
            handled._runs.append([min([low, *(r[0] for r in joined)]), max([high, *(r[1] for r in joined)])])
        handled._trim()
        return handled
