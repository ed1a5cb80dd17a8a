"""URDF rpy to a rotation matrix: the one conversion the URDF readers share (core/pose.py)."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
from robot_touch.core.pose import rot_x, rot_z, rpy_matrix

ANGLE = st.floats(-math.pi, math.pi, allow_nan=False)


def rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@given(ANGLE, ANGLE, ANGLE)
def test_rpy_is_yaw_pitch_roll_about_fixed_axes(roll: float, pitch: float, yaw: float) -> None:
    """Check rpy_matrix against Rz(yaw) Ry(pitch) Rx(roll), the URDF convention."""
    expected = rot_z(yaw) @ rot_y(pitch) @ rot_x(roll)
    assert np.allclose(rpy_matrix(roll, pitch, yaw), expected, atol=1e-12)


def test_a_quarter_turn_of_yaw_turns_x_into_y() -> None:
    """Check one case by hand: yaw π/2 takes the x axis to the y axis."""
    assert np.allclose(rpy_matrix(0.0, 0.0, math.pi / 2) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
