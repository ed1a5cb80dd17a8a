"""
Every service call the touch UI makes comes back as an answer to show, a refusal or silence too.

:class:`robot_touch.ui.service_answers.PendingCalls` with fake futures and time passed in.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from robot_touch.ui.service_answers import (
    answer_of,
    ANSWER_TIMEOUT,
    KEPT_ANSWERS,
    PendingCalls,
    ServiceAnswer,
)


class FakeFuture:
    """A call's future: pending until :meth:`finish` or :meth:`fail`, then done."""

    def __init__(self) -> None:
        self._done = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self.cancelled = False

    def finish(self, result: Any) -> FakeFuture:
        """Answer the call with ``result``."""
        self._done, self._result = True, result
        return self

    def fail(self, exception: BaseException) -> FakeFuture:
        """End the call with ``exception``."""
        self._done, self._exception = True, exception
        return self

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        return self._result

    def exception(self) -> BaseException | None:
        return self._exception

    def cancel(self) -> None:
        self.cancelled = True


def set_bool(success: bool, message: str = '') -> SimpleNamespace:
    """Return a std_srvs SetBool / Trigger response."""
    return SimpleNamespace(success=success, message=message)


def set_parameters(*reasons: str | None) -> SimpleNamespace:
    """Return a SetParameters response: one result per parameter, None = set."""
    return SimpleNamespace(
        results=[SimpleNamespace(successful=r is None, reason=r or '') for r in reasons]
    )


def test_a_refusal_is_answered_with_the_servers_reason() -> None:
    """Home while e-stopped: the user sees teleop's reason, not nothing."""
    future = FakeFuture().finish(set_bool(False, 'e-stop is engaged'))
    assert answer_of('/teleop/home', future) == ServiceAnswer(
        '/teleop/home', False, 'e-stop is engaged'
    )
    assert answer_of('/teleop/enable', FakeFuture().finish(set_bool(True))) == ServiceAnswer(
        '/teleop/enable', True, ''
    )


def test_set_parameters_succeeds_only_when_every_parameter_was_set() -> None:
    assert answer_of('p', FakeFuture().finish(set_parameters(None, None))) == ServiceAnswer(
        'p', True, ''
    )
    refused = FakeFuture().finish(set_parameters(None, 'out of range', 'read-only'))
    assert answer_of('p', refused) == ServiceAnswer('p', False, 'out of range; read-only')


def test_an_exception_or_no_response_is_a_failure_with_what_is_known() -> None:
    assert answer_of('s', FakeFuture().fail(RuntimeError('server died'))) == ServiceAnswer(
        's', False, 'server died'
    )
    assert answer_of('s', FakeFuture().finish(None)) == ServiceAnswer('s', False, 'no answer')


def test_a_call_waits_for_its_answer_then_is_reported_once() -> None:
    calls = PendingCalls()
    future = FakeFuture()
    calls.add('/teleop/estop', 10.0, future)
    assert calls.take_answers(11.0) == []
    future.finish(set_bool(True, 'engaged'))
    assert calls.take_answers(11.5) == [ServiceAnswer('/teleop/estop', True, 'engaged')]
    assert calls.take_answers(12.0) == []


def test_a_silent_server_is_reported_after_the_timeout_and_its_call_cancelled() -> None:
    calls = PendingCalls()
    future = FakeFuture()
    calls.add('/teleop/home', 10.0, future)
    assert calls.take_answers(10.0 + ANSWER_TIMEOUT) == []  # not more than the timeout yet
    assert not future.cancelled
    assert calls.take_answers(10.0 + ANSWER_TIMEOUT + 0.01) == [
        ServiceAnswer('/teleop/home', False, f'no answer within {ANSWER_TIMEOUT:g} s')
    ]
    assert future.cancelled
    assert calls.take_answers(100.0) == []
    short = FakeFuture()
    calls.add('/teleop/home', 10.0, short)
    assert calls.take_answers(10.6, timeout=0.5) == [
        ServiceAnswer('/teleop/home', False, 'no answer within 0.5 s')
    ]


def test_answers_come_in_the_order_the_calls_were_sent_and_at_most_the_newest_kept() -> None:
    calls = PendingCalls()
    waiting = FakeFuture()
    calls.add('first', 0.0, waiting)
    for i in range(KEPT_ANSWERS + 5):
        calls.add(f'call{i}', 0.0, FakeFuture().finish(set_bool(True)))
    answers = calls.take_answers(1.0)
    assert [a.service for a in answers] == [f'call{i}' for i in range(5, KEPT_ANSWERS + 5)]
    waiting.finish(set_bool(False, 'no'))
    assert calls.take_answers(1.0) == [ServiceAnswer('first', False, 'no')]
