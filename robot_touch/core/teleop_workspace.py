"""
The workspace box (and with it the floor) binds where the tip goes, not only the targets.

A target clamped into the box can still be reached through a path that leaves it, and an
unreachable target's nearest pose can lie outside it (folded onto the base, below the
mounting surface). :class:`WorkspaceGuard` checks the tip (FK of ``tip_link``) two ways:

* before a move starts: its end pose and samples along its previewed path
  (:meth:`WorkspaceGuard.move_problem`); a move that would leave the box is refused;
* every control cycle, whatever moves the arm (jogs, blends, anything the first check cannot
  foresee): after the step, the stop the arm could still make from the new state must stay
  in the box; if it would not, the step is replaced by braking from the previous state,
  which the previous cycle checked (:meth:`WorkspaceGuard.step`). By induction the tip never
  leaves the box by more than :data:`EDGE_TOLERANCE`.

A tip already outside (the arm was latched there) may move only in ways that do not take it
farther out. Pure Python, no ROS.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np
from robot_touch.core.motion import Setpoint, SetpointGenerator
from robot_touch.core.teleop_inputs import WorkspaceBox

#: How far (m) the tip may pass the box edge (FK between samples, rounding).
EDGE_TOLERANCE = 1e-3
#: Samples along a previewed move or stop (the tip between two samples is within the other
#: half of :data:`EDGE_TOLERANCE` for the speeds and stops of the shipped arms).
PATH_SAMPLES = 24


class _Fk(Protocol):
    def fk(self, q: Sequence[float]) -> np.ndarray: ...


class WorkspaceGuard:
    """
    Keeps the tip inside ``box`` (see the module docstring).

    :param kinematics: anything with ``fk(q) -> 4x4``.
    :param box: the workspace box in the base frame; its lower z is the floor.
    """

    def __init__(self, kinematics: _Fk, box: WorkspaceBox) -> None:
        self.kin = kinematics
        self.box = box

    def outside(self, q: Sequence[float]) -> float:
        """How far (m) the tip at joints ``q`` is outside the box."""
        return self.box.outside(self.kin.fk(q)[:3, 3])

    def worst(self, path: Any) -> float:
        """Return the farthest the tip gets outside the box along ``path`` (rows of joints)."""
        return max((self.outside(q) for q in path), default=0.0)

    def allowance(self, q: Sequence[float]) -> float:
        """
        How far outside the tip may go from ``q``.

        Half the tolerance (the other half covers the tip between the samples checked), or no
        farther than it already is.
        """
        return max(EDGE_TOLERANCE / 2, self.outside(q) + 1e-9)

    def move_problem(
        self, gen: SetpointGenerator, goal: Sequence[float], speed_scale: float
    ) -> str | None:
        """Why the move of ``gen`` to ``goal`` would take the tip out of the box, or None."""
        allowed = self.allowance(gen.position)
        end = self.outside(goal)
        if end > allowed:
            return self._where(goal, 'ends')
        path, _ = gen.preview_move(goal, speed_scale, PATH_SAMPLES)
        worst = max(range(len(path)), key=lambda k: self.outside(path[k]))
        if self.outside(path[worst]) > allowed:
            return self._where(path[worst], 'passes')
        return None

    def _where(self, q: Sequence[float], verb: str) -> str:
        z = float(self.kin.fk(q)[2, 3])
        if z < self.box.lower[2]:
            floor = self.box.lower[2]
            return f'the tip {verb} {1000 * (floor - z):.1f} mm below the floor (z = {floor:g} m)'
        return f'the tip {verb} {1000 * self.outside(q):.1f} mm outside the workspace box'

    def step(self, gen: SetpointGenerator, dt: float) -> tuple[Setpoint, bool]:
        """Advance ``gen`` by ``dt``; True when the step had to become a stop at the edge."""
        if gen.mode in ('hold', 'brake'):
            return gen.step(dt), False  # a stop cannot be made safer
        before = (gen.position, gen.velocity, gen.acceleration)
        allowed = self.allowance(before[0])
        sp = gen.step(dt)
        if (
            self.outside(sp.position) <= allowed
            and self.worst(gen.preview_brake(PATH_SAMPLES)) <= allowed
        ):
            return sp, False
        gen.take_state(*before)  # brake from where the previous cycle checked a stop is safe
        return gen.step(dt), True
