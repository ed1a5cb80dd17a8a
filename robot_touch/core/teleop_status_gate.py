"""
When the ``teleop`` node publishes ``teleop/status``: at once on a change, else every period.

A change is a new :meth:`robot_touch.core.teleop_status.Status.key` (code, detail, mode,
enabled; not the live numbers). Pure: time is passed in.
"""

from __future__ import annotations

import math
from typing import Hashable


class StatusGate:
    """
    Let a status through when its key changed or ``period`` has passed since the last one.

    :param period: seconds between two publications of an unchanged status (> 0).
    """

    def __init__(self, period: float) -> None:
        if not (math.isfinite(period) and period > 0):
            raise ValueError(f'period must be a finite number of seconds > 0, got {period!r}')
        self.period = float(period)
        self._last_key: Hashable = None
        self._last_at = -math.inf

    def due(self, key: Hashable, now: float) -> bool:
        """
        Return whether the status of ``key`` is published at ``now``; if so, remember it.

        The first status is always published.
        """
        if key == self._last_key and now - self._last_at < self.period:
            return False
        self._last_key = key
        self._last_at = now
        return True
