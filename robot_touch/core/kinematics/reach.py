"""
The reach of an arm: the largest distance from its first joint's origin to the tip.

The teleop layer and the IK (a target beyond the reach sphere needs no restarts) use it; the
condition number divides position rows by it so that metres and radians compare.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def first_joint_origin(ets: Any) -> np.ndarray:
    """Return the origin of the first joint's frame in the base frame (a point on its axis)."""
    T = np.eye(4)
    for et in ets:
        if et.isjoint:
            break
        T = T @ et.A()
    return T[:3, 3].copy()


def compute_reach(
    fk: Callable[[np.ndarray], np.ndarray],
    centre: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> float:
    """
    Return the largest distance (m) from ``centre`` to the tip within the joint limits.

    The farthest of many random configurations (fixed seed), then pushed outwards by bounded
    optimisation (SciPy's L-BFGS-B), so it is the true maximum within the limits.

    :param fk: the tip pose (4x4) of a joint vector.
    """
    from scipy.optimize import minimize

    rng = np.random.default_rng(11)
    samples = rng.uniform(lower, upper, size=(512, len(lower)))
    dists = [float(np.linalg.norm(fk(s)[:3, 3] - centre)) for s in samples]
    start = samples[int(np.argmax(dists))]
    sol = minimize(
        lambda q: -float(np.linalg.norm(fk(q)[:3, 3] - centre)),
        start,
        bounds=list(zip(lower, upper)),
        method='L-BFGS-B',
    )
    return max(max(dists), -float(sol.fun))
