"""Per-user flood protection: a sliding window of recent messages per key."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from time import monotonic


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0
    # True only for the first refusal in a burst, so a flood gets one warning, not one each.
    notify: bool = False


class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[Hashable, deque[float]] = {}
        self._warned: set[Hashable] = set()

    def check(self, key: Hashable) -> Decision:
        now = self._clock()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) < self.limit:
            hits.append(now)
            self._warned.discard(key)
            return Decision(True)
        notify = key not in self._warned
        self._warned.add(key)
        return Decision(False, retry_after=hits[0] + self.window - now, notify=notify)

    def forget_idle(self) -> None:
        """Drop keys with no recent hits, so memory follows active users, not all users ever."""
        now = self._clock()
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
            self._warned.discard(key)
