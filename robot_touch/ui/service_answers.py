"""
The answers to the touch UI's service calls: every one comes back to be shown.

A call to teleop (E-stop, Enable, Home, Free drive, a parameter) is kept with its future until
it is answered or :data:`ANSWER_TIMEOUT` has passed; then :meth:`PendingCalls.take_answers`
hands out how it ended, a refusal or a silence included, so the screen can say so. Pure, no
rclpy: a future is anything with ``done()``, ``result()``, ``exception()`` and ``cancel()``, as
rclpy's ``Future``; time is passed in.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import threading
from typing import Any, Protocol

#: seconds after which an unanswered service call is reported as such
ANSWER_TIMEOUT = 3.0
#: the most answers one :meth:`PendingCalls.take_answers` returns (the newest ones)
KEPT_ANSWERS = 32


class CallFuture(Protocol):
    """What :class:`PendingCalls` needs of a call's future (rclpy's ``Future`` has it)."""

    def done(self) -> bool: ...
    def result(self) -> Any: ...
    def exception(self) -> BaseException | None: ...
    def cancel(self) -> None: ...


@dataclass(frozen=True)
class ServiceAnswer:
    """How a service call ended: its service name, success, and the server's message."""

    service: str
    success: bool
    message: str


def answer_of(service: str, future: CallFuture) -> ServiceAnswer:
    """
    Return how the call of a done ``future`` ended.

    A response with ``success`` (std_srvs SetBool, Trigger) gives its success and message; a
    SetParameters response (one result per parameter) succeeds when every parameter was set, its
    message the reasons of those that were not; an exception or no response is a failure.

    :param service: the service's name, for the answer.
    :param future: a done future.
    """
    result = future.result() if future.exception() is None else None
    if result is None:
        return ServiceAnswer(service, False, str(future.exception() or 'no answer'))
    if hasattr(result, 'success'):
        return ServiceAnswer(service, bool(result.success), str(getattr(result, 'message', '')))
    failed = [r.reason for r in getattr(result, 'results', []) if not r.successful]
    return ServiceAnswer(service, not failed, '; '.join(failed))


class PendingCalls:
    """The calls sent and not yet reported, safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[str, float, CallFuture]] = []

    def add(self, service: str, sent: float, future: CallFuture) -> None:
        """
        Keep a call until it is answered or times out.

        :param service: the service's name, for its answer.
        :param sent: when the call was sent (s, the clock of :meth:`take_answers`'s ``now``).
        :param future: the call's future.
        """
        with self._lock:
            self._pending.append((service, sent, future))

    def take_answers(self, now: float, timeout: float = ANSWER_TIMEOUT) -> list[ServiceAnswer]:
        """
        Return the answers that came back since the last call, in the order the calls were sent.

        A call unanswered for more than ``timeout`` s is cancelled and answered here (success
        False, "no answer within ..."); at most :data:`KEPT_ANSWERS`, the newest, are returned.

        :param now: the time now (s, the clock of :meth:`add`'s ``sent``).
        :param timeout: how long a call may stay unanswered (s).
        """
        answers: deque[ServiceAnswer] = deque(maxlen=KEPT_ANSWERS)
        with self._lock:
            pending, self._pending = self._pending, []
            for service, sent, future in pending:
                if future.done():
                    answers.append(answer_of(service, future))
                elif now - sent > timeout:
                    future.cancel()
                    answers.append(
                        ServiceAnswer(service, False, f'no answer within {timeout:g} s')
                    )
                else:
                    self._pending.append((service, sent, future))
        return list(answers)
