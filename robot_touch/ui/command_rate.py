"""
The "Commands: N/s" figure of the status line: commands seen in the last second.

Both backends count with it: the touch_ui node the commands teleop sends to the arm, the tablet
the motion commands it sends through the gateway. Pure and thread-safe: commands are counted on
the ROS or link thread, the rate is read on Kivy's; time is passed in.
"""

from __future__ import annotations

from collections import deque
import threading

#: the window the rate is counted over (s)
WINDOW = 1.0
#: the most commands remembered: a rate above this many per second shows as this many
KEPT = 512


class CommandRate:
    """Count commands as they are seen; tell how many came in the last :data:`WINDOW`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: deque[float] = deque(maxlen=KEPT)

    def count(self, now: float) -> None:
        """Count one command seen at ``now`` (s, the clock of :meth:`rate`)."""
        with self._lock:
            self._seen.append(now)

    def rate(self, now: float) -> float:
        """Return the commands seen in the :data:`WINDOW` up to ``now`` (per second)."""
        with self._lock:
            return float(sum(1 for t in self._seen if now - t <= WINDOW))
