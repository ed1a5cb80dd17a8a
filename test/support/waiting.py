"""
Deadline-and-poll waiting, shared by every tier: ``from support.waiting import wait_for``.

(``test/`` is on ``sys.path`` by the ``pythonpath`` setting in setup.cfg, so the helpers of
``test/support/`` are imported by their package name, never found by accident.)
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar('T')


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.005) -> T | None:
    """
    Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` s pass (None).

    The predicate is asked once more when the deadline has passed, so a slow predicate still
    gets its last word.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return None
        time.sleep(interval)


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    what: str = 'condition',
    interval: float = 0.005,
) -> T:
    """
    Like :func:`wait_until`, but a timeout fails the test, naming ``what``.

    :raises AssertionError: ``predicate`` stayed falsy for ``timeout`` seconds.
    """
    value = wait_until(predicate, timeout, interval)
    if value is None:
        raise AssertionError(f'timed out after {timeout} s waiting for {what}')
    return value
