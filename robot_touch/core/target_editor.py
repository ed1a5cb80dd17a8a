"""
How gestures of the top and side workspace views move an end-effector target. Pure Python.

:class:`TargetEditor` turns the gestures of :mod:`robot_touch.core.gestures` into target poses,
given how the view maps pixels to metres (:mod:`robot_touch.core.workspace_view`). Every change
is relative to the target at the start of the gesture, so touching the screen never makes the
target jump. Also importable from :mod:`robot_touch.core.gestures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Literal

import numpy as np
from robot_touch.core.workspace_view import Pose, rot_x, rot_z, ViewMapping

ViewName = Literal['top', 'side']


@dataclass
class TargetEditor:
    """
    Applies gestures of the top (x–y) and side (reach–z) views to an end-effector pose.

    :param pinch_gain_m: height change per doubling of the finger distance (m).
    :param min_radius_m: below this distance from the base axis the azimuth is undefined and the
        orientation is not turned to follow the target.
    """

    pinch_gain_m: float = 0.08
    min_radius_m: float = 0.02
    _start: Pose | None = field(default=None, repr=False)

    def begin(self, pose: Pose) -> None:
        """Remember ``pose`` as the reference of the gesture that is starting."""
        self._start = pose.copy()

    def end(self) -> None:
        """End the gesture."""
        self._start = None

    @property
    def active(self) -> bool:
        return self._start is not None

    def drag(
        self, view: ViewName, dx: float, dy: float, mapping: ViewMapping, azimuth: float
    ) -> Pose | None:
        """
        Return the target moved by a finger ``(dx, dy)`` pixels from its start point.

        Top view: x–y follow the finger. Side view: reach and height; reach is measured along
        the target's own azimuth (``azimuth``, the arm's, when the target is on the base axis).
        """
        if self._start is None:
            return None
        du, dv = dx / mapping.scale, dy / mapping.scale
        p0 = self._start.position
        if view == 'top':
            return self._moved_in_plane(p0 + np.array([du, dv, 0.0]))
        az = self._azimuth(self._start, azimuth)
        u = np.array([math.cos(az), math.sin(az), 0.0])
        return Pose(p0 + du * u + np.array([0.0, 0.0, dv]), self._start.rotation.copy())

    def two_finger(self, scale: float, rotation: float) -> Pose | None:
        """Pinch (height: spread = up) and rotate (wrist roll, counter-clockwise = positive)."""
        if self._start is None or not (math.isfinite(scale) and math.isfinite(rotation)):
            return None
        scale = min(10.0, max(0.1, scale))
        p = self._start.position + np.array([0.0, 0.0, self.pinch_gain_m * math.log2(scale)])
        return Pose(p, self._start.rotation @ rot_x(rotation))

    def go_to(self, view: ViewName, pose: Pose, u: float, v: float, azimuth: float) -> Pose:
        """
        Target for a double tap at metric view point (u, v), from the current target ``pose``.

        Top view: (u, v) is x, y. Side view: u is the reach along the pose's azimuth, v the height.
        """
        self._start = pose.copy()
        try:
            if view == 'top':
                return self._moved_in_plane(np.array([u, v, pose.position[2]]))
            az = self._azimuth(pose, azimuth)
            return Pose(np.array([u * math.cos(az), u * math.sin(az), v]), pose.rotation.copy())
        finally:
            self._start = None

    def _azimuth(self, pose: Pose, fallback: float) -> float:
        p = pose.position
        return math.atan2(p[1], p[0]) if math.hypot(p[0], p[1]) > self.min_radius_m else fallback

    def _moved_in_plane(self, p: np.ndarray) -> Pose:
        """
        Return the pose at a new position, orientation turned about z by the change of azimuth.

        The tool so keeps pointing the same way relative to the arm (a 5-DOF arm cannot do
        otherwise).
        """
        assert self._start is not None
        p0 = self._start.position
        r0, r1 = math.hypot(p0[0], p0[1]), math.hypot(p[0], p[1])
        rot = self._start.rotation.copy()
        if r0 > self.min_radius_m and r1 > self.min_radius_m:
            turn = math.atan2(p[1], p[0]) - math.atan2(p0[1], p0[0])
            rot = rot_z(turn) @ rot
        return Pose(p, rot)
