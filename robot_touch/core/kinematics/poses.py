"""
Poses as 4x4 homogeneous transforms: validation, quaternions, pose errors.

Written on plain floats where the IK hot path runs them: numpy's per-call overhead on 4x4
matrices costs more than the arithmetic.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from robot_touch.errors import PoseError

#: Orthonormality drift accepted (and repaired) in an input rotation; beyond it, PoseError.
ORTHONORMAL_DRIFT = 1e-3

_F64 = np.dtype(float)


def validate_pose(T: Any) -> np.ndarray:
    """
    Check that ``T`` is a homogeneous transform and return it as a float 4x4 array.

    Small orthonormality drift (up to :data:`ORTHONORMAL_DRIFT`, e.g. from rounding in a
    JSON file) is repaired to the nearest rotation; anything else raises.

    :raises PoseError: not 4x4, not finite, rotation not orthonormal or a reflection, or a bottom
        row other than 0 0 0 1. The message says which.
    """
    return validate_rows(T)[0]


def validate_rows(T: Any) -> tuple[np.ndarray, list[list[float]]]:
    """
    :func:`validate_pose`, also returning the rows as Python floats.

    The IK hot path works on those: numpy's per-call overhead on 4x4 matrices costs more
    than the arithmetic. ``tolist()`` is used rather than ``ravel().tolist()`` because FK
    poses (rtb's, so most targets) are column-major, which ``ravel`` would first copy.
    """
    if type(T) is np.ndarray and T.dtype is _F64 and T.shape == (4, 4):
        arr = T  # what np.asarray(T, dtype=float) returns, without its cost
    else:
        try:
            arr = np.asarray(T, dtype=float)
        except (TypeError, ValueError) as exc:
            raise PoseError(f'pose must be a 4x4 matrix of numbers ({exc})') from None
        if arr.shape != (4, 4):
            raise PoseError(f'pose must be a 4x4 matrix, got shape {arr.shape}')
    rows = arr.tolist()
    (x0, y0, z0, px), (x1, y1, z1, py), (x2, y2, z2, pz), r3 = rows
    b0, b1, b2, b3 = r3
    # Builtin calls (sum, abs, max) cost about twice a float operation here, so the checks
    # are written as arithmetic and chained comparisons, which this runs on every IK call.
    xx = x0 * x0 + x1 * x1 + x2 * x2 - 1.0
    yy = y0 * y0 + y1 * y1 + y2 * y2 - 1.0
    zz = z0 * z0 + z1 * z1 + z2 * z2 - 1.0
    # NaN or ±inf anywhere makes this NaN or ±inf (every rotation entry is squared in one of
    # xx, yy, zz). So can a finite entry beyond ~1e154 (its square overflows): the exact
    # test then decides, and such a matrix fails the orthonormality test below instead.
    if not math.isfinite(px + py + pz + b0 + b1 + b2 + b3 + xx + yy + zz) and not math.isfinite(
        sum(rows[0]) + sum(rows[1]) + sum(rows[2]) + sum(r3)
    ):
        raise PoseError('pose contains NaN or infinite values')
    if not (
        -1e-9 <= b0 <= 1e-9
        and -1e-9 <= b1 <= 1e-9
        and -1e-9 <= b2 <= 1e-9
        and -1e-9 <= b3 - 1.0 <= 1e-9
    ):
        raise PoseError(f'pose bottom row must be 0 0 0 1, got {r3}')
    # Columns of R orthonormal and right-handed (det +1).
    det = (x1 * y2 - x2 * y1) * z0 + (x2 * y0 - x0 * y2) * z1 + (x0 * y1 - x1 * y0) * z2
    if det <= 0:
        raise PoseError(
            f'pose rotation is a reflection or degenerate (determinant {det:.3g}), not a rotation'
        )
    xy = x0 * y0 + x1 * y1 + x2 * y2
    yz = y0 * z0 + y1 * z1 + y2 * z2
    xz = x0 * z0 + x1 * z1 + x2 * z2
    if (
        -1e-6 <= xx <= 1e-6
        and -1e-6 <= yy <= 1e-6
        and -1e-6 <= zz <= 1e-6
        and -1e-6 <= xy <= 1e-6
        and -1e-6 <= yz <= 1e-6
        and -1e-6 <= xz <= 1e-6
    ):
        return arr, rows
    drift = max(abs(xx), abs(yy), abs(zz), abs(xy), abs(yz), abs(xz))
    if drift > ORTHONORMAL_DRIFT:
        raise PoseError(f'pose rotation is not orthonormal (RᵀR differs from I by {drift:.3g})')
    out = np.array(rows)
    u, _s, vt = np.linalg.svd(out[:3, :3])
    out[:3, :3] = u @ vt
    return out, out.tolist()


def pose_from_xyz_quat(xyz: Sequence[float], quat_xyzw: Sequence[float]) -> np.ndarray:
    """
    4x4 pose from a position (m) and a quaternion (x, y, z, w; normalised here).

    Any non-zero finite quaternion is a rotation, whatever its length: it is first divided by
    its largest component, so squaring cannot overflow (components beyond ~1e154) or vanish
    in the subnormals (below ~1e-154), then normalised.

    :raises PoseError: wrong lengths, non-finite values or a zero quaternion.
    """
    try:
        p = [float(v) for v in xyz]
        x, y, z, w = (float(v) for v in quat_xyzw)
    except (TypeError, ValueError) as exc:
        raise PoseError(f'xyz must be 3 numbers and quat 4 numbers (x, y, z, w) ({exc})') from None
    if len(p) != 3:
        raise PoseError(f'xyz must be 3 numbers, got {len(p)}')
    if not all(math.isfinite(v) for v in (*p, x, y, z, w)):
        raise PoseError('pose contains NaN or infinite values')
    largest = max(abs(x), abs(y), abs(z), abs(w))
    if largest == 0.0:
        raise PoseError('quaternion is zero; it must have a non-zero length (x, y, z, w)')
    x, y, z, w = x / largest, y / largest, z / largest, w / largest
    n = math.sqrt(x * x + y * y + z * z + w * w)  # in [1, 2]: no overflow, no underflow
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w), p[0]],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w), p[1]],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y), p[2]],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def pose_errors(A: list[list[float]], B: list[list[float]]) -> tuple[float, float]:
    """
    Position distance (m) and rotation angle (rad) between two 4x4 poses given as rows.

    Unrolled on plain floats: this runs on every IK answer, and numpy's per-call overhead
    on 3x3 matrices costs more than the arithmetic. The angle comes from the Frobenius
    distance of the rotations, ‖R_A - R_B‖² = 8 sin²(θ/2): half the operations of trace
    plus skew part, and as accurate for small angles (the entries' differences carry θ
    directly); near π, where only "not ok" matters, asin loses digits but stays within 1e-8 rad.
    """
    (a0, a1, a2, a3), (a4, a5, a6, a7), (a8, a9, a10, a11) = A[0], A[1], A[2]
    (b0, b1, b2, b3), (b4, b5, b6, b7), (b8, b9, b10, b11) = B[0], B[1], B[2]
    a0 -= b0
    a1 -= b1
    a2 -= b2
    a4 -= b4
    a5 -= b5
    a6 -= b6
    a8 -= b8
    a9 -= b9
    a10 -= b10
    a3 -= b3
    a7 -= b7
    a11 -= b11
    s = math.sqrt(
        (a0 * a0 + a1 * a1 + a2 * a2 + a4 * a4 + a5 * a5 + a6 * a6 + a8 * a8 + a9 * a9 + a10 * a10)
        * 0.125
    )
    return math.sqrt(a3 * a3 + a7 * a7 + a11 * a11), 2.0 * math.asin(s if s < 1.0 else 1.0)
