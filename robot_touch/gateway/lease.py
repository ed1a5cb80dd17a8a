"""
The control lease: one operator at a time.

Viewers see everything; only the holder moves the arm. Taking control is explicit
(:meth:`ControlLease.take`) and refused while someone else holds it. The lease passes — is
free again — when its holder releases it, disconnects, or is silent (no frame and no answer to
the gateway's WebSocket pings) for longer than ``timeout`` (0.5 s). Every time a holder loses
the lease the caller must make teleop hold (the returned :class:`LeaseEvent` says so): the arm
stops where it is, under control, and waits for the next operator.

Pure Python, time passed in.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LeaseEvent:
    """
    The lease changed hands.

    ``previous`` lost it (None: it was free), ``holder`` has it now (None: free); ``reason`` is
    taken, released, disconnected or silent.
    """

    previous: int | None
    holder: int | None
    reason: str

    @property
    def hold_needed(self) -> bool:
        """Return whether a holder lost the lease, so teleop must hold the arm."""
        return self.previous is not None and self.holder != self.previous


class ControlLease:
    """
    Who holds control, by client id.

    :param timeout: seconds of holder silence after which the lease passes (> 0).
    """

    def __init__(self, timeout: float = 0.5) -> None:
        if not timeout > 0:
            raise ValueError(f'lease timeout must be positive, got {timeout}')
        self.timeout = timeout
        self.holder: int | None = None
        self.since: float | None = None
        self._heard: float = 0.0

    def holds(self, client: int) -> bool:
        return self.holder == client

    def take(self, client: int, now: float) -> tuple[bool, LeaseEvent | None]:
        """``client`` asks for control. Returns (granted, event or None if nothing changed)."""
        self.expire(now)
        if self.holder == client:
            self._heard = now
            return True, None
        if self.holder is not None:
            return False, None
        self.holder, self.since, self._heard = client, now, now
        return True, LeaseEvent(None, client, 'taken')

    def release(self, client: int) -> LeaseEvent | None:
        """``client`` gives control back (a no-op unless it holds it)."""
        if self.holder != client:
            return None
        return self._free('released')

    def disconnected(self, client: int) -> LeaseEvent | None:
        """``client``'s connection closed."""
        if self.holder != client:
            return None
        return self._free('disconnected')

    def heard(self, client: int, now: float) -> None:
        """Something arrived from ``client`` (a frame or a pong)."""
        if self.holder == client:
            self._heard = max(self._heard, now)

    def silence(self, now: float) -> float:
        """Seconds since the holder was last heard (0 when the lease is free)."""
        return 0.0 if self.holder is None else max(0.0, now - self._heard)

    def expire(self, now: float) -> LeaseEvent | None:
        """Pass the lease on if its holder has been silent longer than the timeout."""
        if self.holder is not None and now - self._heard > self.timeout:
            return self._free('silent')
        return None

    def _free(self, reason: str) -> LeaseEvent:
        previous = self.holder
        self.holder, self.since = None, None
        return LeaseEvent(previous, None, reason)
