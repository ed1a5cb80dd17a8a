"""
Raw-pty rigs shared by the PWM board tests (test_ssc32.py, test_maestro.py).

The bus gets the pty's slave as a pyserial port; the test reads (:func:`read_master`) or
answers (:class:`ScriptedBoard`) on the master. The fixtures ``raw_pty`` and
``raw_pty_session`` (test/unit/conftest.py) are made with :func:`raw_pty_pair`.
"""

from __future__ import annotations

from contextlib import contextmanager
import os
import select
import threading
import tty
from typing import Iterator

import serial


@contextmanager
def raw_pty_pair(timeout: float) -> Iterator[tuple[int, serial.Serial]]:
    """Return a raw pty (master fd, pyserial port on the slave) with this read timeout."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = serial.Serial(os.ttyname(slave), 115200, timeout=timeout)
    try:
        yield master, port
    finally:
        port.close()
        os.close(master)
        os.close(slave)


def read_master(master: int) -> bytes:
    """Everything the bus wrote, up to a 50 ms pause."""
    data = b''
    while select.select([master], [], [], 0.05)[0]:
        data += os.read(master, 4096)
    return data


class ScriptedBoard:
    """The far end of a raw pty answering each request with the next scripted reply."""

    def __init__(self, master: int) -> None:
        self.master = master
        self.replies: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if select.select([self.master], [], [], 0.01)[0]:
                os.read(self.master, 4096)
                if self.replies:
                    os.write(self.master, self.replies.pop(0))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
