"""
One remote client's state.

Authentication, its message budget, what it advertised and what it subscribed to (with rosbridge's
throttle_rate / queue_length semantics).

Subscription delivery follows rosbridge v2 (ROSBRIDGE_PROTOCOL.md, "Subscribe";
rosbridge_library's subscription_modifiers): without throttle_rate and queue_length every
message goes out; with a throttle_rate (ms) only, a message arriving sooner than that after the
last one sent is dropped; with a queue_length, messages wait in a queue of that length (oldest
dropped when full) and leave one per throttle period. Several subscriptions of one client to one
topic (different ids) share one stream at the lowest throttle_rate and the longest queue.

Pure Python, time passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from robot_touch.core.throttle import Throttle

#: Seconds between two "messages dropped" reports to one client.
REPORT_PERIOD = 1.0

#: rosbridge status levels, most to least verbose.
LEVELS = ('info', 'warning', 'error', 'none')
#: Slack on throttle comparisons (float sums of periods must not miss by a rounding error).
EPSILON = 1e-6
#: A queue_length larger than this is cut to it (memory per client stays bounded).
MAX_QUEUE_LENGTH = 100


@dataclass
class TopicStream:
    """One client's subscription(s) to one topic name, as the client spelled it."""

    name: str
    rule_name: str
    ids: dict[str, tuple[int, int]] = field(default_factory=dict)  # sub id -> (throttle ms, queue)
    last_sent: float = -1e18
    queue: deque = field(default_factory=deque)

    @property
    def throttle(self) -> float:
        """Seconds between messages (the lowest throttle_rate of the subscriptions)."""
        return min(t for t, _q in self.ids.values()) / 1000.0 if self.ids else 0.0

    @property
    def queue_length(self) -> int:
        return max(q for _t, q in self.ids.values()) if self.ids else 0

    def offer(self, item: Any, now: float) -> list[Any]:
        """Return what to send now of a new message: 0 or 1 items (queued ones leave in due)."""
        qlen = self.queue_length
        if qlen == 0:
            if now - self.last_sent >= self.throttle - EPSILON:
                self.last_sent = now
                return [item]
            return []
        if not self.queue and now - self.last_sent >= self.throttle - EPSILON:
            self.last_sent = now
            return [item]
        self.queue.append(item)
        while len(self.queue) > qlen:
            self.queue.popleft()
        return []

    def due(self, now: float) -> tuple[list[Any], float | None]:
        """Return the queued messages whose turn has come, and when the next is (None: empty)."""
        out = []
        if self.queue and now - self.last_sent >= self.throttle - EPSILON:
            self.last_sent = now
            out.append(self.queue.popleft())
        if not self.queue:
            return out, None
        return out, self.last_sent + self.throttle


class TokenBucket:
    """``rate`` messages per second with bursts up to ``burst``; ``dropped`` counts refusals."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.at = now
        self.dropped = 0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.dropped += 1
        return False


@dataclass
class Session:
    """A connected client."""

    id: int  # noqa: A003 (the client id, as the status and the logs call it)
    peer: str
    opened: float
    bucket: TokenBucket
    authenticated: bool = False
    token: str | None = None
    level: str = 'error'
    advertised: dict[str, str] = field(default_factory=dict)  # relative name -> type
    streams: dict[str, TopicStream] = field(default_factory=dict)  # name as given -> stream
    dropped_reported: int = 0
    reports: Throttle = field(default_factory=lambda: Throttle(REPORT_PERIOD))
    closing: bool = False

    @property
    def label(self) -> str:
        return f'client {self.id} ({self.peer})'

    def wants(self, level: str) -> bool:
        """Whether a status message of ``level`` goes to this client (its set_level)."""
        return LEVELS.index(level) >= LEVELS.index(self.level) and self.level != 'none'

    def subscribe(
        self, name: str, rule_name: str, sub_id: str, throttle_ms: int, queue_length: int
    ) -> bool:
        """Add a subscription; True when it is the client's first to this name."""
        stream = self.streams.get(name)
        first = stream is None
        if stream is None:
            stream = self.streams[name] = TopicStream(name, rule_name)
        stream.ids[sub_id] = (throttle_ms, min(queue_length, MAX_QUEUE_LENGTH))
        return first

    def unsubscribe(self, name: str, sub_id: str | None) -> TopicStream | None:
        """Remove one subscription (or all, ``sub_id`` None); the stream if it is now gone."""
        stream = self.streams.get(name)
        if stream is None:
            return None
        if sub_id is None:
            stream.ids.clear()
        else:
            stream.ids.pop(sub_id, None)
        if stream.ids:
            return None
        del self.streams[name]
        return stream
