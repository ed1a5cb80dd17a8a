"""
Timestamps of the goal frames that reach an emulated Feetech STS bus.

The device end of the latency benchmarks: ``robot-touch bench e2e`` (touch to goal frame) and
``bench remote`` (tablet or local target to goal frame) both wrap the virtual arm's device with
:class:`FrameTap` and read the arrival times of the goal SYNC WRITE frames from it.
"""

from __future__ import annotations

from collections import deque
import threading
import time
from typing import Any


class FrameTap:
    """
    Timestamps the goal SYNC WRITE frames the host sends to an emulated Feetech STS bus.

    Installed by wrapping the device's ``feed`` (the virtual arm's thread calls it with every
    chunk it reads from the pty), so shipped code stays untouched. A frame's time is when the
    chunk holding its first byte was read. Only frames that write Goal Position count: the
    bridge's position reads (SYNC READ) carry no command.
    """

    def __init__(self, device: Any, history: int = 4096) -> None:
        from robot_touch.protocols import feetech_tables as ft

        self._ft = ft
        self._feed = device.feed
        self._buf = bytearray()
        #: (stream offset of a chunk's first byte, its arrival)
        self._buf_t: deque[tuple[int, float]] = deque()
        self._consumed = 0  # stream offset of _buf[0]
        self._lock = threading.Lock()
        #: (arrival of the frame's first byte, the frame's goal data: id + bytes per servo)
        self.frames: deque[tuple[float, bytes]] = deque(maxlen=history)
        self.count = 0
        device.feed = self.feed

    def feed(self, data: bytes) -> list[bytes]:
        """Stamp and scan ``data`` (a chunk read from the pty), then hand it to the device."""
        now = time.monotonic()  # first: the stamp should not include our parsing
        self._buf_t.append((self._consumed + len(self._buf), now))
        self._buf += data
        self._scan()
        return self._feed(data)

    def _arrival(self, offset: int) -> float:
        # the last chunk that started at or before the frame's first byte
        t = self._buf_t[0][1]
        for start, when in self._buf_t:
            if start > offset:
                break
            t = when
        return t

    def _drop(self, n: int) -> None:
        del self._buf[:n]
        self._consumed += n
        while len(self._buf_t) > 1 and self._buf_t[1][0] <= self._consumed:
            self._buf_t.popleft()

    def _scan(self) -> None:
        ft, buf = self._ft, self._buf
        while True:
            start = buf.find(b'\xff\xff')
            if start < 0:
                self._drop(len(buf) - 1 if buf.endswith(b'\xff') else len(buf))
                return
            self._drop(start)
            if len(buf) < 4:
                return
            total = buf[3] + 4
            if buf[2] == 0xFF or buf[3] < 2:
                self._drop(1)
                continue
            if len(buf) < total:
                return
            frame = bytes(buf[:total])
            if (
                frame[2] == ft.BROADCAST_ID
                and frame[4] == ft.INST_SYNC_WRITE
                and len(frame) > 7
                and frame[5] == ft.GOAL_POSITION.address
            ):
                with self._lock:
                    self.frames.append((self._arrival(self._consumed), frame[7:-1]))
                    self.count += 1
            self._drop(total)

    def snapshot(self) -> list[tuple[float, bytes]]:
        """Return the recorded frames, oldest first: (arrival, goal data)."""
        with self._lock:
            return list(self.frames)
