"""Failed-login limiter: a sliding window per client address and per login (in memory, per instance)."""

from __future__ import annotations

import time
from collections import defaultdict, deque


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float, clock=time.monotonic) -> None:  # noqa: ANN001
        self.attempts = attempts
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        cutoff = self._clock() - self.window_s
        while q and q[0] < cutoff:
            q.popleft()
        if not q:
            self._failures.pop(key, None)
        return q

    def retry_after(self, ip: str, login: str) -> int:
        """Seconds to wait before trying again, 0 when a try is allowed."""
        worst = 0.0
        for key in (f"ip:{ip}", f"login:{login.lower()}"):
            q = self._recent(key)
            if len(q) >= self.attempts:
                worst = max(worst, q[0] + self.window_s - self._clock())
        return int(worst) + 1 if worst > 0 else 0

    def failed(self, ip: str, login: str) -> None:
        now = self._clock()
        for key in (f"ip:{ip}", f"login:{login.lower()}"):
            self._failures[key].append(now)

    def succeeded(self, login: str) -> None:
        self._failures.pop(f"login:{login.lower()}", None)
