"""
Joint limits of an arm as the IK solver uses them: clipping, and whole turns back inside.

The solver's own search ignores the limits (rtb's solvers only *reject* out-of-limit answers);
a revolute joint that ends a whole turn away from its range is turned back here, and every
returned ``q`` is clipped :data:`~robot_touch.core.kinematics.result.LIMIT_MARGIN` inside.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from robot_touch.core.kinematics.result import LIMIT_MARGIN


class JointBounds:
    """
    The limits of the arm joints, as arrays and as plain floats (the hot path's loops).

    :param lower: lower limits (rad, m), profile order.
    :param upper: upper limits.
    :param revolute: True for each revolute joint (those may be turned by whole turns).

    :ivar lower: the limits as given, array.
    :ivar upper: the limits as given, array.
    :ivar lo_in: ``lower`` + :data:`LIMIT_MARGIN`: returned joints are at least this.
    :ivar hi_in: ``upper`` - :data:`LIMIT_MARGIN`: returned joints are at most this.
    :ivar lo_list: ``lo_in`` as floats.
    :ivar hi_list: ``hi_in`` as floats.
    """

    def __init__(
        self, lower: Sequence[float], upper: Sequence[float], revolute: Sequence[bool]
    ) -> None:
        self.lower = np.array(lower, dtype=float)
        self.upper = np.array(upper, dtype=float)
        self.lo_in = self.lower + LIMIT_MARGIN
        self.hi_in = self.upper - LIMIT_MARGIN
        self.lo_list = self.lo_in.tolist()
        self.hi_list = self.hi_in.tolist()
        self.revolute = np.array(revolute, dtype=bool)
        self.dof = len(self.lo_list)

    def clip(self, q: np.ndarray) -> np.ndarray:
        """Return ``q`` clipped into [lo_in, hi_in]."""
        return np.minimum(np.maximum(q, self.lo_in), self.hi_in)

    def wrap_jump(
        self, q: np.ndarray, ql: list[float], near: np.ndarray
    ) -> tuple[np.ndarray | None, float]:
        """
        Return :meth:`wrap_into_limits` of ``q`` and the largest joint move from ``near``.

        :returns: ``(q inside, jump)``, or ``(None, inf)`` when some joint cannot be brought
            inside.
        """
        qi = self.wrap_into_limits(q, ql, near)
        if qi is None:
            return None, math.inf
        return qi, float(np.max(np.abs(qi - near)))

    def into_limits(self, q: np.ndarray, near: np.ndarray) -> np.ndarray | None:
        """
        Return ``q`` with revolute joints turned by whole turns into the limits.

        Each turned joint ends closest to ``near``; None when some joint cannot be brought
        inside.
        """
        ql = q.tolist()
        lo, hi = self.lo_list, self.hi_list
        inside = True
        for i in range(self.dof):
            if not lo[i] <= ql[i] <= hi[i]:
                inside = False
                break
        if inside:
            return q
        return self.wrap_into_limits(q, ql, near)

    def wrap_into_limits(
        self, q: np.ndarray, ql: list[float], near: np.ndarray
    ) -> np.ndarray | None:
        """
        Return a copy of ``q`` (``ql``: its floats) turned or clipped into the limits.

        A joint within 1e-7 of a limit is clipped; a revolute joint farther out is turned by
        whole turns (up to two) to the inside value closest to ``near``; None when neither
        brings a joint inside.
        """
        lo, hi = self.lo_list, self.hi_list
        out = q.copy()
        two_pi = 2.0 * math.pi
        for i in range(self.dof):
            v = ql[i]
            if lo[i] <= v <= hi[i]:
                continue
            if not self.revolute[i]:
                if lo[i] - 1e-7 <= v <= hi[i] + 1e-7:
                    out[i] = min(hi[i], max(lo[i], v))
                    continue
                return None
            best = None
            for k in range(-2, 3):
                c = v + k * two_pi
                if lo[i] - 1e-7 <= c <= hi[i] + 1e-7:
                    c = min(hi[i], max(lo[i], c))
                    if best is None or abs(c - near[i]) < abs(best - near[i]):
                        best = c
            if best is None:
                return None
            out[i] = best
        return out
