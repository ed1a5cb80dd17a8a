"""Fixtures of the unit tier: pure code, and real ptys where a codec meets a serial port."""

from __future__ import annotations

from typing import Iterator

import pytest
import serial
from support.pwm_pty import raw_pty_pair


@pytest.fixture
def raw_pty() -> Iterator[tuple[int, serial.Serial]]:
    """Provide a real pty: the bus gets the slave as a pyserial port, the test reads the master."""
    with raw_pty_pair(0.01) as pty:
        yield pty


@pytest.fixture(scope='module')
def raw_pty_session() -> Iterator[tuple[int, serial.Serial]]:
    """Like :func:`raw_pty`, once per module (hypothesis runs many examples on one pty)."""
    with raw_pty_pair(0.005) as pty:
        yield pty
