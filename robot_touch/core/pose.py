"""
An end-effector pose as the UI edits it: a position and a rotation matrix. Pure Python + numpy.

Also importable from :mod:`robot_touch.core.workspace_view`.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np


def rot_x(a: float) -> np.ndarray:
    """Rotation matrix about x by ``a`` rad."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_z(a: float) -> np.ndarray:
    """Rotation matrix about z by ``a`` rad."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rpy_matrix(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """
    Return the rotation matrix of a URDF ``rpy`` (rad).

    Fixed axes: roll about x, then pitch about y, then yaw about z, i.e. Rz(yaw) Ry(pitch)
    Rx(roll) (the URDF specification's <origin rpy>).
    """
    cr, sr, cp, sp, cy, sy = (
        math.cos(roll),
        math.sin(roll),
        math.cos(pitch),
        math.sin(pitch),
        math.cos(yaw),
        math.sin(yaw),
    )
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


@dataclass
class Pose:
    """A position (m, base frame) and a 3x3 rotation matrix."""

    position: np.ndarray
    rotation: np.ndarray

    @classmethod
    def from_matrix(cls, T: np.ndarray) -> 'Pose':
        T = np.asarray(T, dtype=float)
        return cls(T[:3, 3].copy(), T[:3, :3].copy())

    def matrix(self) -> np.ndarray:
        """Return the 4x4 homogeneous transform."""
        T = np.eye(4)
        T[:3, :3] = self.rotation
        T[:3, 3] = self.position
        return T

    def copy(self) -> 'Pose':
        return Pose(np.array(self.position, dtype=float), np.array(self.rotation, dtype=float))

    def quaternion(self) -> tuple[float, float, float, float]:
        """Orientation as (x, y, z, w), w ≥ 0 (the geometry_msgs order)."""
        return matrix_to_quaternion(self.rotation)

    @property
    def azimuth(self) -> float:
        """Angle of the position around the base z axis (rad)."""
        return math.atan2(self.position[1], self.position[0])


def matrix_to_quaternion(R: np.ndarray) -> tuple[float, float, float, float]:
    """3x3 rotation → unit quaternion (x, y, z, w) with w ≥ 0."""
    m = np.asarray(R, dtype=float)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        w, x, y, z = (
            0.25 * s,
            (m[2, 1] - m[1, 2]) / s,
            (m[0, 2] - m[2, 0]) / s,
            (m[1, 0] - m[0, 1]) / s,
        )
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        w, x, y, z = (
            (m[2, 1] - m[1, 2]) / s,
            0.25 * s,
            (m[0, 1] + m[1, 0]) / s,
            (m[0, 2] + m[2, 0]) / s,
        )
    elif m[1, 1] > m[2, 2]:
        s = math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        w, x, y, z = (
            (m[0, 2] - m[2, 0]) / s,
            (m[0, 1] + m[1, 0]) / s,
            0.25 * s,
            (m[1, 2] + m[2, 1]) / s,
        )
    else:
        s = math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        w, x, y, z = (
            (m[1, 0] - m[0, 1]) / s,
            (m[0, 2] + m[2, 0]) / s,
            (m[1, 2] + m[2, 1]) / s,
            0.25 * s,
        )
    n = math.sqrt(x * x + y * y + z * z + w * w)
    x, y, z, w = x / n, y / n, z / n, w / n
    if w < 0:
        x, y, z, w = -x, -y, -z, -w
    return (x, y, z, w)
