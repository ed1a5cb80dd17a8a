"""
The IK searches beyond the seeded one: restarts, and the nearest reachable pose.

Failures
--------
1. One seeded LM search (the seed is the current joint state, so small moves stay on the
   same branch; a small move whose answer jumps more than
   :data:`~robot_touch.core.kinematics.result.BRANCH_JUMP` rad is rejected). That one is in
   :meth:`ArmKinematics.ik <robot_touch.core.kinematics.arm.ArmKinematics.ik>`, the hot path.
2. Only when that fails *and* the target is far from the seed's pose (and inside the reach
   sphere): a fixed list of restarts (home, then random configurations from a fixed-seed
   RNG so answers are reproducible): :func:`restart_solutions`.
3. If nothing reaches the target within the limits: the nearest reachable pose, found by a
   bounded (projected, active-set) Levenberg–Marquardt on position plus a lightly weighted
   orientation error, started from the seed and from up to 3 clipped out-of-limit
   solutions of the restarts: :func:`nearest_of`. rtb's solvers only *reject* out-of-limit
   answers, they do not minimise under bounds; SciPy's ``least_squares(bounds=...)`` does,
   but costs ~0.2 ms of Python per iteration on a 5-joint problem (5 ms per call), too slow
   for a teleop loop pushing against the workspace edge, hence the ~30-line loop here.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from robot_touch.core.kinematics.limits import JointBounds
from robot_touch.core.kinematics.result import RESTARTS
from robot_touch.core.kinematics.rtb_adapter import CompiledChain

#: One LM search from a start, limits ignored: ``(q, converged, residual)``.
LocalSolve = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, bool, float]]


def restart_solutions(
    solve: LocalSolve,
    bounds: JointBounds,
    Tg: np.ndarray,
    q0: np.ndarray,
    seeded: bool,
    home: np.ndarray,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """
    Run LM from home and from fixed-seed random starts.

    :param solve: one LM search, limits ignored.
    :param q0: the seed: solutions are turned into the limits closest to it.
    :param seeded: a seeded search also starts from ``home``, and collects up to 3 solutions
        (to pick the nearest); a cold one stops at the first good one.

    :returns: (solutions inside the limits, converged solutions outside them).
    """
    rng = np.random.default_rng(20261123)
    restarts = [home] if seeded else []
    restarts += [rng.uniform(bounds.lo_in, bounds.hi_in) for _ in range(RESTARTS)]
    found: list[np.ndarray] = []
    outside: list[np.ndarray] = []
    for s in restarts:
        q, converged, _ = solve(Tg, s)
        if not converged:
            continue
        qi = bounds.into_limits(q, q0)
        if qi is None:
            outside.append(q)
            continue
        found.append(qi)
        if not seeded or len(found) >= 3:
            break
    return found, outside


def nearest_of(
    chain: CompiledChain,
    bounds: JointBounds,
    Tg: np.ndarray,
    starts: list[np.ndarray],
    rotation_weight: float,
) -> np.ndarray:
    """Return the best :func:`nearest` answer over several starts (stops at one on target)."""
    best, best_cost = starts[0], math.inf
    for s in starts:
        q, cost = nearest(chain, bounds, Tg, s, rotation_weight)
        if cost < best_cost:
            best, best_cost = q, cost
        if cost < 1e-16:
            break
    return best


def nearest(
    chain: CompiledChain,
    bounds: JointBounds,
    Tg: np.ndarray,
    start: np.ndarray,
    rotation_weight: float,
) -> tuple[np.ndarray, float]:
    """
    Return the joints within the limits whose pose is nearest the target, and its cost.

    Bounded least squares on r(q) = [p(q) - p_t, w (R(q) - R_t)] (the rotation part as
    the 9 matrix entries, whose derivative is exact: dR e_i = ω × R e_i). Each step is a
    Levenberg–Marquardt step on the joints not pressed against a limit, then clipped.

    :param rotation_weight: ``w`` above (m per unit of rotation error); 0 for position only.
    """
    fk, jac = chain.fkine, chain.jacob0
    lo, hi = bounds.lo_in, bounds.hi_in
    dof = bounds.dof
    pt = Tg[:3, 3]
    Rt = Tg[:3, :3]
    wr = rotation_weight

    def residual(q: np.ndarray) -> np.ndarray:
        P = fk(q)
        return np.concatenate((P[:3, 3] - pt, wr * (P[:3, :3] - Rt).ravel(order='F')))

    def jacobian(q: np.ndarray) -> np.ndarray:
        J = jac(q)
        R = fk(q)[:3, :3]
        Jw = J[3:]
        # -[c]× ω for each column c of R, stacked: rows of d(vec R)/dq.
        rot = np.empty((9, dof))
        for i in range(3):
            c = R[:, i]
            rot[3 * i] = c[1] * Jw[2] - c[2] * Jw[1]
            rot[3 * i + 1] = c[2] * Jw[0] - c[0] * Jw[2]
            rot[3 * i + 2] = c[0] * Jw[1] - c[1] * Jw[0]
        return np.vstack((J[:3], -wr * rot))

    q = np.minimum(np.maximum(start, lo), hi)
    r = residual(q)
    cost = float(r @ r)
    lam = 1e-3
    for _ in range(60):
        J = jacobian(q)
        g = J.T @ r
        # Joints at a limit that the descent direction (-g) pushes further out are frozen.
        free = ~(((q <= lo + 1e-12) & (g > 0)) | ((q >= hi - 1e-12) & (g < 0)))
        if not free.any():
            break
        H = J.T @ J
        all_free = bool(free.all())
        if not all_free:
            H = H[free][:, free]
            g = g[free]
        d = H.diagonal() + 1e-9
        improved = False
        while lam < 1e8:
            step = np.linalg.solve(H + np.diag(lam * d), -g)
            if all_free:
                qn = q + step
            else:
                qn = q.copy()
                qn[free] += step
            qn = np.minimum(np.maximum(qn, lo), hi)
            rn = residual(qn)
            cn = float(rn @ rn)
            if cn < cost:
                improved = True
                break
            lam *= 4.0
        if not improved:
            break
        gain = cost - cn
        q, r, cost = qn, rn, cn
        lam = max(lam / 4.0, 1e-9)
        # Converged: the cost no longer falls (relative), or the target is reached.
        if gain <= 1e-9 * cost or cost < 1e-20:
            break
    return q, cost
