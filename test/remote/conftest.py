"""
The remote tier.

The whole graph started by ``robot-touch run --no-ui --remote`` (virtual arm on a pty, serial
bridge, teleop, gateway), reached over real WebSockets and TLS by clients we did not write
(roslibpy, the ``websockets`` client) and by the tablet app. Helpers: ``_remote.py``. One graph per
test module.
"""

from __future__ import annotations

import os
import time
from typing import Iterator

import pytest
from support.remote import RemoteGraph


@pytest.fixture(scope='module')
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteGraph]:
    data = tmp_path_factory.mktemp('remote_data')
    g = RemoteGraph(data, f'rt_remote_{os.getpid()}_{time.monotonic_ns() % 100000}')
    try:
        g.wait_up()
        yield g
    finally:
        g.stop()
