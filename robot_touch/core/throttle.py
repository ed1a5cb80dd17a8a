"""
One log throttle: a repeated message is let through at most once per period per kind.

A node that warns about each rejected input, each late sample or each failed cycle would
flood its log when a publisher misbehaves at 100 Hz. :class:`Throttle` decides, per key (one
key per distinct problem, so a flood of one does not hide another), whether a message is let
through now, and counts the ones it held back so the next message can say how many were not
shown. Pure: time is passed in, and nothing is logged here.

rclpy's ``throttle_duration_sec`` throttles per call site and does not count what it drops;
the gateway and the nodes need both per-key throttling and the count, from one place.
"""

from __future__ import annotations

import math
from typing import Hashable


class Throttle:
    """
    Let a message of each key through at most once per ``period``; count the held-back ones.

    The first message of a key is always let through. A message is let through when at least
    ``period`` seconds have passed since the last one of its key that was let through.

    :param period: shortest time between two messages of one key (s, ≥ 0).
    """

    def __init__(self, period: float) -> None:
        if not (math.isfinite(period) and period >= 0):
            raise ValueError(f'period must be a finite number of seconds ≥ 0, got {period!r}')
        self.period = float(period)
        self._passed_at: dict[Hashable, float] = {}
        self._held: dict[Hashable, int] = {}
        self._held_before_last: dict[Hashable, int] = {}

    def allow(self, now: float, key: Hashable = None) -> bool:
        """
        Return whether a message of ``key`` at ``now`` is let through.

        A message let through restarts the period of its key; one held back is counted
        (see :meth:`held_back`).
        """
        if now - self._passed_at.get(key, -math.inf) < self.period:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._passed_at[key] = now
        self._held_before_last[key] = self._held.pop(key, 0)
        return True

    def held_back(self, key: Hashable = None) -> int:
        """Return how many messages of ``key`` were held back before the last one let through."""
        return self._held_before_last.get(key, 0)

    def pending(self, key: Hashable = None) -> int:
        """Return how many messages of ``key`` were held back since the last one let through."""
        return self._held.get(key, 0)

    def suffix(self, key: Hashable = None) -> str:
        """Return the text that tells a reader how many were held back ('' when none)."""
        hidden = self.held_back(key)
        return f' ({hidden} more like this since the last warning)' if hidden else ''
