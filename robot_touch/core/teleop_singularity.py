"""
Cartesian jog near singularities: damped least squares and a condition-number speed scale.

Pure numpy, no ROS. Used by :mod:`robot_touch.core.teleop_jog`.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: Damping starts when the smallest singular value of the weighted Jacobian drops below
#: this multiple of the maximum damping (Maciejewski & Klein's variable damping, 1988).
DAMPING_ONSET = 2.5


def tool_frame_jacobian(jacobian_base: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Return the 6×n base-frame Jacobian of the tip, in the tool frame (same tip point)."""
    rt = rotation.T
    return np.vstack((rt @ jacobian_base[:3], rt @ jacobian_base[3:]))


def dls_joint_velocity(
    jacobian: np.ndarray, twist: np.ndarray, weights: Sequence[float], max_damping: float
) -> np.ndarray:
    """
    Joint velocities that best produce ``twist`` (weighted, damped least squares).

    :param jacobian: 6×n Jacobian in the same frame as ``twist``.
    :param twist: desired [vx vy vz wx wy wz] (m/s, rad/s).
    :param weights: 6 task weights; 0 drops an axis the arm cannot control.
    :param max_damping: λ at an exact singularity; no damping while the smallest singular value
        stays above ``DAMPING_ONSET * max_damping``.

    :returns: The n joint velocities (rad/s), finite even at a singularity.
    """
    w = np.asarray(weights, dtype=float)
    a = w[:, None] * jacobian
    b = w * np.asarray(twist, dtype=float)
    sigma = np.linalg.svd(a, compute_uv=False)
    rank = min(a.shape)
    sigma_min = sigma[rank - 1] if len(sigma) >= rank else 0.0
    onset = DAMPING_ONSET * max_damping
    lam2 = 0.0
    if max_damping > 0 and sigma_min < onset:
        lam2 = (1.0 - (sigma_min / onset) ** 2) * max_damping**2
    n = a.shape[1]
    # Solve (AᵀA + λ²I) q̇ = Aᵀb; lstsq keeps it finite when λ = 0 and A loses rank.
    return np.linalg.lstsq(a.T @ a + lam2 * np.eye(n), a.T @ b, rcond=1e-10)[0]


def singularity_speed_scale(condition: float, slow_at: float, stop_at: float) -> float:
    """1 below ``slow_at``, falling linearly to 0 at ``stop_at`` (and beyond, and at inf)."""
    if not math.isfinite(condition) or condition >= stop_at:
        return 0.0
    if condition <= slow_at:
        return 1.0
    return (stop_at - condition) / (stop_at - slow_at)


def inverse_condition(condition: float) -> float:
    """1/condition, 0 at a singularity: comparable even when the condition number is inf."""
    return 0.0 if not math.isfinite(condition) or condition <= 0 else 1.0 / condition


def scale_to_limits(qd: np.ndarray, limits: np.ndarray) -> tuple[np.ndarray, float]:
    """``qd`` scaled down (direction kept) so every |qd_i| ≤ limits_i; returns (qd, factor)."""
    ratio = np.max(np.abs(qd) / limits) if len(qd) else 0.0
    if ratio <= 1.0:
        return qd, 1.0
    return qd / ratio, 1.0 / ratio
