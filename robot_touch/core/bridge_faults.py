"""
The bridge's small bookkeeping parts.

The command watchdog, the reconnection backoff, and the fault book that logs each fault once
when it appears and once when it clears.
"""

from __future__ import annotations

from dataclasses import dataclass


class Watchdog:
    """Expires when nothing has fed it for ``timeout`` seconds (never fed = expired)."""

    def __init__(self, timeout: float) -> None:
        if not timeout > 0:
            raise ValueError(f'command_timeout must be positive, got {timeout}')
        self.timeout = timeout
        self.last: float | None = None

    def feed(self, now: float) -> None:
        self.last = now

    def expired(self, now: float) -> bool:
        return self.last is None or now - self.last > self.timeout

    def reset(self) -> None:
        self.last = None


class Backoff:
    """Delays between reconnection attempts: ``initial``, doubling, at most ``maximum``."""

    def __init__(self, initial: float = 0.2, maximum: float = 2.0, factor: float = 2.0) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(
                f'reconnect backoff needs 0 < initial ≤ maximum, got {initial}, {maximum}'
            )
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial
        self.attempts = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt (and grow the one after it)."""
        delay = self._next
        self._next = min(self.maximum, self._next * self.factor)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        self._next = self.initial
        self.attempts = 0


@dataclass(frozen=True)
class LogEvent:
    """A line for the log: ``level`` is "warn", "error" or "info"."""

    level: str
    message: str


class FaultBook:
    """Active faults by key. Raising a fault logs once; clearing it logs "recovered" once."""

    def __init__(self) -> None:
        self.active: dict[str, str] = {}
        self.events: list[LogEvent] = []

    def raise_(self, key: str, message: str, level: str = 'warn') -> bool:
        """Mark ``key`` active; True (and one log event) only when it was not already."""
        if key in self.active:
            self.active[key] = message  # keep the newest detail for diagnostics, without logging
            return False
        self.active[key] = message
        self.events.append(LogEvent(level, message))
        return True

    def clear(self, key: str, message: str | None = None) -> bool:
        """Mark ``key`` over; True (and one "recovered" log event) only when it was active."""
        old = self.active.pop(key, None)
        if old is None:
            return False
        self.events.append(LogEvent('info', message or f'recovered: {old}'))
        return True

    def drain(self) -> list[LogEvent]:
        """Return the log events since the last drain."""
        events, self.events = self.events, []
        return events


__all__ = ['Backoff', 'FaultBook', 'LogEvent', 'Watchdog']
