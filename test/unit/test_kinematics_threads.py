"""
One ArmKinematics shared by threads: IK on one, FK / Jacobian / condition on another.

Teleop does exactly that (IK on its executor thread, the control cycle on its own thread).
Ground truth is the single-threaded answer of the same calls; the second test makes every C
call release the GIL, as a future rtb might, and checks that the chain's lock still keeps the
calls apart and the answers right.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from robot_touch.core.kinematics import ArmKinematics
from robot_touch.core.profile import ArmProfile

ROUNDS = 3
TIMEOUT = 120.0


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads every microsecond (default 5 ms) while a test runs."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _workload(k: ArmKinematics) -> tuple[list, list]:
    """
    Return IK cases (target, seed) and joint vectors for FK, Jacobian and condition.

    The IK cases mix tracking steps, cold starts and unreachable targets (restarts and the
    nearest-pose search: many C calls per solve).
    """
    rng = np.random.default_rng(42)
    lo, hi = np.array(k.profile.lower), np.array(k.profile.upper)
    ik_cases = []
    for i in range(40):
        q = rng.uniform(lo, hi)
        T = k.fk(q)
        if i % 4 == 0:
            ik_cases.append((T, None))
        elif i % 4 == 1:
            far = T.copy()
            far[:3, 3] *= 2.5
            ik_cases.append((far, q))
        else:
            ik_cases.append((T, np.clip(q + rng.normal(scale=0.02, size=k.dof), lo, hi)))
    qs = [rng.uniform(lo, hi) for _ in range(60)]
    return ik_cases, qs


def _truth(k: ArmKinematics, ik_cases: list, qs: list) -> tuple[list, list]:
    """Return the single-threaded answers: IK (q, reason) and (fk, jacobian, condition)."""
    ik = [(r.q.copy(), r.reason) for r in (k.ik(T, seed) for T, seed in ik_cases)]
    other = [(k.fk(q), k.jacobian(q), k.condition(q)) for q in qs]
    return ik, other


def _hammer(k: ArmKinematics, ik_cases: list, qs: list) -> list[str]:
    """Run IK on one thread and FK / Jacobian / condition on another; return every mismatch."""
    ik_truth, other_truth = _truth(k, ik_cases, qs)
    errors: list[str] = []
    start = threading.Barrier(2)

    def ik_thread() -> None:
        start.wait(timeout=TIMEOUT)
        for _ in range(ROUNDS):
            for i, (T, seed) in enumerate(ik_cases):
                r = k.ik(T, seed)
                q, reason = ik_truth[i]
                if not np.array_equal(r.q, q) or r.reason != reason:
                    errors.append(f'ik case {i}: {r.reason} {r.q} != {reason} {q}')

    def control_thread() -> None:
        start.wait(timeout=TIMEOUT)
        for _ in range(ROUNDS * 4):
            for i, q in enumerate(qs):
                T, J, c = other_truth[i]
                if not np.array_equal(k.fk(q), T):
                    errors.append(f'fk {i} differs')
                if not np.array_equal(k.jacobian(q), J):
                    errors.append(f'jacobian {i} differs')
                if k.condition(q) != c:
                    errors.append(f'condition {i} differs')

    threads = [threading.Thread(target=f, daemon=True) for f in (ik_thread, control_thread)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + TIMEOUT
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not t.is_alive(), 'a kinematics thread did not finish in time'
    return errors


def test_shared_kinematics_answers_as_single_threaded(
    kin: ArmKinematics, fast_switching: None
) -> None:
    """Check that IK and FK / Jacobian / condition on two threads give single-threaded answers."""
    ik_cases, qs = _workload(kin)
    assert _hammer(kin, ik_cases, qs) == []


def _overlap_detector(real: Callable, state: dict[str, Any]) -> Callable:
    """
    Return ``real`` wrapped to release the GIL around it and to record any overlapping call.

    ``time.sleep`` releases the GIL: that is what a C extension calling ``PyEval_SaveThread``
    does, and what rtb 1.5 does not (yet).
    """
    guard = threading.Lock()

    def call(*args: Any) -> Any:
        with guard:
            state['inside'] += 1
            state['calls'] += 1
            if state['inside'] > 1:
                state['overlaps'] += 1
        time.sleep(0)
        try:
            return real(*args)
        finally:
            time.sleep(0)
            with guard:
                state['inside'] -= 1

    return call


def test_calls_into_rtb_never_overlap_even_if_it_released_the_gil(
    so101: ArmProfile, fast_switching: None
) -> None:
    """
    Check that the chain's lock keeps C calls apart when the extension releases the GIL.

    Each call into rtb's C functions is wrapped so that it releases the GIL and counts calls
    in flight at once: with the lock there is never more than one, and the answers are still
    the single-threaded ones.
    """
    k = ArmKinematics(so101)
    ik_cases, qs = _workload(k)
    ik_cases = ik_cases[:12]
    state = {'inside': 0, 'calls': 0, 'overlaps': 0}
    chain = k.chain
    # The adapter's references to rtb's C functions (test-only: the adapter's own attributes).
    chain._fkine_c = _overlap_detector(chain._fkine_c, state)
    chain._jacob0_c = _overlap_detector(chain._jacob0_c, state)
    chain._ik_lm_c = _overlap_detector(chain._ik_lm_c, state)
    assert _hammer(k, ik_cases, qs) == []
    assert state['calls'] > 1000
    assert state['overlaps'] == 0, f'{state["overlaps"]} of {state["calls"]} C calls overlapped'
