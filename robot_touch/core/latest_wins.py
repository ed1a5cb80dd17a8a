"""
Coalesce a stream of values to a rate, never dropping the newest: :class:`LatestWins`.

Touch events come 60-120 times a second; the touch UI sends targets and slider positions at
most ``max_publish_rate`` times a second: a value that comes too soon is kept and goes out once
the interval has passed, unless a newer one replaced it first, so the last value of a gesture
always arrives. Pure: time is passed in.
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar

T = TypeVar('T')


class LatestWins(Generic[T]):
    """
    Rate limiter that never drops the newest value.

    ``offer`` returns the value when it may go out now; otherwise it is kept and ``poll``
    returns it once the interval has passed. Values offered in between replace it.

    :param rate_hz: the maximum number of values let out per second.
    """

    def __init__(self, rate_hz: float) -> None:
        if not rate_hz > 0:
            raise ValueError(f'rate_hz must be positive, got {rate_hz}')
        self.interval = 1.0 / rate_hz
        self._pending: T | None = None
        self._has_pending = False
        self._last = -math.inf

    @property
    def pending(self) -> bool:
        return self._has_pending

    def offer(self, value: T, now: float) -> T | None:
        """Submit ``value``; returns it if it should be sent now, else ``None`` (kept)."""
        if now - self._last >= self.interval:
            self._last = now
            self._pending, self._has_pending = None, False
            return value
        self._pending, self._has_pending = value, True
        return None

    def poll(self, now: float) -> T | None:
        """Return the kept value if its time has come, else ``None``."""
        if self._has_pending and now - self._last >= self.interval:
            value = self._pending
            self._pending, self._has_pending = None, False
            self._last = now
            return value
        return None
