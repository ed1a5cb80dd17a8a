"""
The answer of an IK solve (:class:`IKResult`) and the tolerances and limits of the solver.

Tolerances
----------
rtb stops when ``½ eᵀ W e < tol``; its default 1e-6 accepts ~1.4 mm. Here the solver runs to
``tol = 1e-10`` (‖e‖ ≤ 1.4e-5 m or rad: 7x inside the position tolerance, and one LM iteration
fewer than 1e-14 on a tracking step), and every answer is checked again by FK: ``ok`` needs a
position error ≤ :data:`POSITION_TOLERANCE` (1e-4 m) and a rotation error (to the projected
target) ≤ :data:`ROTATION_TOLERANCE` (1e-3 rad).
"""

from __future__ import annotations

from dataclasses import dataclass
import time

import numpy as np

#: ``ok`` needs the achieved position within this distance of the target (m).
POSITION_TOLERANCE = 1e-4
#: ``ok`` needs the achieved orientation within this angle of the achievable target (rad).
ROTATION_TOLERANCE = 1e-3
#: rtb's LM stops when ½ eᵀWe falls below this, i.e. ‖e‖ ≤ 1.4e-5: inside the tolerances above.
SOLVER_TOL = 1e-10
#: LM iterations per search.
ITERATIONS = 40
#: Restarts (beyond the seed and home) when a far target is not reached from the seed.
RESTARTS = 40
#: Out-of-limit solutions kept (clipped) as extra starts of the bounded nearest-pose search.
CLIPPED_STARTS = 3
#: A target within this distance (m) of the seed's pose is a "small move": no restarts.
SMALL_MOVE = 0.02
#: A small move whose answer moves a joint more than this (rad) is a branch flip: rejected.
BRANCH_JUMP = 0.5
#: Orientation weight (m per unit of rotation error) when looking for the nearest pose of an
#: unreachable target: position first, orientation kept where it costs little.
NEAREST_ROTATION_WEIGHT = 0.05
#: Returned joints stay this far inside the limits (rad or m), so they are strictly inside.
LIMIT_MARGIN = 1e-9

REASONS = ('ok', 'unreachable', 'joint_limits', 'no_convergence', 'invalid_pose')

# Bound once: the IK hot path calls these on every solve.
_now = time.perf_counter
_new_object = object.__new__
_set_attr = object.__setattr__


@dataclass(frozen=True)
class IKResult:
    """
    The answer of :meth:`ArmKinematics.ik`.

    :ivar q: joint solution (rad, m for prismatic joints), always strictly inside the profile
        limits; the nearest reachable configuration when the target is not.
    :ivar ok: True when the target was reached within tolerance on the achievable axes.
    :ivar reachable: False when the target is outside what the arm can reach within its limits
        (then ``q`` reaches the nearest pose).
    :ivar position_error: m, achieved vs target.
    :ivar rotation_error: rad, achieved vs the target projected onto the achievable axes.
    :ivar distance: m, how far the target is from the nearest reachable pose (0 when ok).
    :ivar reason: one of :data:`REASONS`: "ok"; "unreachable" (no start reached the target, limits
        ignored: outside the workspace, or for a small move, not reachable from the seed);
        "joint_limits" (reached only with a joint past its limit); "no_convergence" (reachable, but
        capped by ``max_step``, or only by a branch flip during a small move); "invalid_pose" is
        used by callers that catch :class:`PoseError` (the CLI), never returned here.
    :ivar solve_time_us: wall time of the call.
    :ivar pose: 4x4 pose actually reached (FK of ``q``).
    """

    q: np.ndarray
    ok: bool
    reachable: bool
    position_error: float
    rotation_error: float
    distance: float
    reason: str
    solve_time_us: float
    pose: np.ndarray


def ik_result(
    q: np.ndarray,
    *,
    ok: bool,
    reachable: bool,
    position_error: float,
    rotation_error: float,
    distance: float,
    reason: str,
    t0: float,
    pose: np.ndarray,
) -> IKResult:
    """
    Return an :class:`IKResult`, ``solve_time_us`` measured from ``t0`` (``perf_counter``).

    The dataclass ``__init__`` of a frozen class sets each field through
    ``object.__setattr__`` (~2 µs for nine); the IK hot path gives the new object its
    ``__dict__`` at once, a dict literal (~0.6 µs). That relies on a frozen dataclass
    without ``__slots__`` keeping its fields in ``__dict__``: ``test_kinematics.py`` checks
    that the answer equals the one ``IKResult(...)`` builds.
    """
    obj = _new_object(IKResult)
    _set_attr(
        obj,
        '__dict__',
        {
            'q': q,
            'ok': ok,
            'reachable': reachable,
            'position_error': position_error,
            'rotation_error': rotation_error,
            'distance': distance,
            'reason': reason,
            'solve_time_us': (_now() - t0) * 1e6,
            'pose': pose,
        },
    )
    return obj
