"""
Forward and inverse kinematics of an arm profile, on roboticstoolbox-python's C++ solvers.

The profile's URDF (``profile.urdf_xml()``) is read by rtb into a ``Robot``; the chain
``base_link → tip_link`` becomes one ETS whose compiled handle is called directly
(``IK_LM_c``, ``ETS_fkine``, ``ETS_jacob0``) so that a tracking solve costs a few
microseconds plus a little Python.

Arms with fewer than 6 joints
-----------------------------
rtb's Levenberg–Marquardt solver weights the pose error per *base-frame* axis, while the
profile's ``ik.task_weights`` are given in the *tool* frame (x = approach, y = pitch axis,
z = tool up). A 5-DOF arm (SO-101: pan, three pitch joints, wrist roll) cannot turn its
approach out of the vertical plane through its pan axis, and a 4-DOF arm (OpenMANIPULATOR-X)
cannot roll either. A base-frame mask cannot express "ignore the tool z rotation", so the
target orientation is first *projected* onto what the arm can achieve, then solved as a
full pose:

* ``rz`` weight 0 (pan-type arm): the arm plane is the vertical plane through the pan axis
  and the target position. The target's approach (tool x) is projected into that plane;
  the tool z keeps as much of the target's roll as possible (Gram–Schmidt against the new
  approach).
* ``rx`` weight 0 as well: the tool y axis is set to the plane normal, so only the approach
  pitch remains. Its sign is the arm's choice, not the target's (the roll is "don't care"):
  the arm faces the target (or keeps the side its seed faces when tracking); the mirrored
  solution (facing away, leaning back over the top) is tried by restarts when that fails.
* all rotation weights 0: position only (rotation masked out).
* all six weights non-zero: the target is used as given.

The projected target is exactly achievable whenever the position is, so the solver's
residual can go to zero. Whether the arm is really pan-type (first axis vertical, tool
frame in the plane) is checked numerically when :class:`ArmKinematics` is built; other
weight patterns fall back to rtb's base-frame mask with the weights as given, which is only
an approximation (documented in ``config/arms/README.md``). The non-zero weights set the
relative importance of position (mean of the x y z weights) and orientation (mean of the
rotation weights) in the solver's cost.

Tolerances
----------
rtb stops when ``½ eᵀ W e < tol``; its default 1e-6 accepts ~1.4 mm. Here the solver runs to
``tol = 1e-10`` (‖e‖ ≤ 1.4e-5 m or rad: 7x inside the position tolerance, and one LM iteration
fewer than 1e-14 on a tracking step), and every answer is checked again by FK: ``ok`` needs a
position error ≤ :data:`POSITION_TOLERANCE` (1e-4 m) and a rotation error (to the projected
target) ≤ :data:`ROTATION_TOLERANCE` (1e-3 rad).

Failures
--------
1. One seeded LM search (the seed is the current joint state, so small moves stay on the
   same branch; a small move whose answer jumps more than :data:`BRANCH_JUMP` rad is
   rejected).
2. Only when that fails *and* the target is far from the seed's pose (and inside the reach
   sphere): a fixed list of restarts (home, then random configurations from a fixed-seed
   RNG so answers are reproducible).
3. If nothing reaches the target within the limits: the nearest reachable pose, found by a
   bounded (projected, active-set) Levenberg–Marquardt on position plus a lightly weighted
   orientation error, started from the seed and from up to 3 clipped out-of-limit
   solutions of the restarts. rtb's solvers only *reject* out-of-limit
   answers, they do not minimise under bounds; SciPy's ``least_squares(bounds=...)`` does,
   but costs ~0.2 ms of Python per iteration on a 5-joint problem (5 ms per call), too slow
   for a teleop loop pushing against the workspace edge, hence the ~30-line loop here.

Joint limits are always enforced on the returned ``q`` (clip, then FK of the clipped
``q``), so every reported error belongs to the configuration actually returned.
"""

from __future__ import annotations

from dataclasses import dataclass
import io
import math
import struct
import time
from typing import Any, Sequence

import numpy as np
from robot_touch.core.profile import ArmProfile
from robot_touch.errors import PoseError, ProfileError

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
#: Orthonormality drift accepted (and repaired) in an input rotation; beyond it, PoseError.
ORTHONORMAL_DRIFT = 1e-3

REASONS = ('ok', 'unreachable', 'joint_limits', 'no_convergence', 'invalid_pose')

# Bound once: the IK hot path calls these on every solve.
_now = time.perf_counter
_new_object = object.__new__
_set_attr = object.__setattr__
_F64 = np.dtype(float)
_pack_pose = struct.Struct('16d').pack  # 16 floats, native order: what np.frombuffer reads
_frombuffer = np.frombuffer
_BOTTOM_ROW = (0.0, 0.0, 0.0, 1.0)
_hypot = math.hypot


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


def _ik_result(
    q: np.ndarray,
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
    ``__dict__`` at once, a dict literal (~0.6 µs).
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


# ---------------------------------------------------------------------------- poses


def validate_pose(T: Any) -> np.ndarray:
    """
    Check that ``T`` is a homogeneous transform and return it as a float 4x4 array.

    Small orthonormality drift (up to :data:`ORTHONORMAL_DRIFT`, e.g. from rounding in a
    JSON file) is repaired to the nearest rotation; anything else raises.

    :raises PoseError: not 4x4, not finite, rotation not orthonormal or a reflection, or a bottom
        row other than 0 0 0 1. The message says which.
    """
    return _validate(T)[0]


def _validate(T: Any) -> tuple[np.ndarray, list[list[float]]]:
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


def _pose_errors(A: list[list[float]], B: list[list[float]]) -> tuple[float, float]:
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


# ---------------------------------------------------------------------------- the arm


class ArmKinematics:
    """
    FK, IK, Jacobian and dexterity measures of one arm profile (joints in profile order).

    :param profile: a loaded :class:`~robot_touch.core.profile.ArmProfile`.

    :raises ProfileError: the URDF cannot be read by rtb, or its chain base_link → tip_link does
        not hold exactly the profile's arm joints.
    """

    def __init__(self, profile: ArmProfile) -> None:
        from roboticstoolbox._fknm_c import ETS_fkine, ETS_jacob0, IK_LM_c

        self.profile = profile
        self.dof = profile.dof
        self.joint_names = list(profile.joint_names)
        self._fkine_c = ETS_fkine
        self._jacob_c = ETS_jacob0
        self._ik_c = IK_LM_c
        self._ets = self._load_chain(profile)
        self._fknm = self._ets._fknm
        self._lower = np.array(profile.lower, dtype=float)
        self._upper = np.array(profile.upper, dtype=float)
        self._lo_in = self._lower + LIMIT_MARGIN
        self._hi_in = self._upper - LIMIT_MARGIN
        self._lower_list = self._lo_in.tolist()
        self._upper_list = self._hi_in.tolist()
        self._home = np.clip(np.array(profile.home, dtype=float), self._lo_in, self._hi_in)
        self._home_list = self._home.tolist()
        self._revolute = np.array([not j.prismatic for j in profile.joints])
        self._reach: float | None = None
        self._centre = self._first_joint_origin()
        w = profile.task_weights
        self._weights = np.array(w, dtype=float)
        wp = [v for v in w[:3] if v > 0]
        wr = [v for v in w[3:] if v > 0]
        pos_w = sum(wp) / len(wp) if wp else 0.0
        rot_w = sum(wr) / len(wr) if wr else 0.0
        self._mode = self._choose_mode(w)
        if self._mode == 'mask':
            # Weight pattern this module cannot project: rtb's base-frame mask as given.
            self._mask = np.array(w, dtype=float)
        else:
            self._mask = np.array([pos_w] * 3 + [rot_w] * 3, dtype=float)
        self._check_rotation = self._mode != 'position'
        self._projects = self._mode in ('pan', 'pan_roll')
        # rtb weights the error by diag(mask), or by the identity when given None: the same
        # numbers (checked bit for bit), without converting a 6-vector on every call.
        self._lm_mask = None if bool(np.all(self._mask == 1.0)) else self._mask

    # ------------------------------------------------------------------ setup

    def _load_chain(self, profile: ArmProfile) -> Any:
        import roboticstoolbox as rtb
        from roboticstoolbox.models.URDF.URDFRobot import URDF_file

        try:
            elinks, name, _ = URDF_file(io.StringIO(profile.urdf_xml()))
            robot = rtb.Robot(elinks, name=name)
            ets = robot.ets(start=profile.base_link, end=profile.tip_link)
            # rtb's chain starts with the base link's own transform from its parent (e.g.
            # world -> base_link): poses are in base_link's frame, so that part is dropped
            own = len(robot.link_dict[profile.base_link].ets)
            if own:
                ets = ets[own:]
        except ProfileError:
            raise
        except Exception as exc:  # rtb raises many types; the user needs the file
            raise ProfileError(
                profile.urdf_path, '', f'roboticstoolbox cannot read it: {exc}'
            ) from None
        # Joint names along the chain: rtb keeps the child link; the URDF maps link → joint.
        child_to_joint = {v['child']: k for k, v in profile.urdf_joints.items()}
        chain: list[str] = []
        link = robot.link_dict.get(profile.tip_link)
        while link is not None and link.name != profile.base_link:
            if link.isjoint:
                chain.append(child_to_joint.get(link.name, link.name))
            link = link.parent
        chain.reverse()
        if chain != self.joint_names:
            raise ProfileError(
                profile.path,
                'joints',
                f'the chain {profile.base_link} → {profile.tip_link} in {profile.urdf_path.name} moves '
                f'{chain}, but the profile lists {self.joint_names} (same joints, same order needed)',
            )
        # Constant folding (the URDF's identity base frame, fixed joints): every ET costs its
        # own 4x4 product in each FK and Jacobian of the solver. Same results up to rounding
        # (bit-identical for the shipped arms, where only the identity goes).
        ets = ets.compile()
        ets.qlim = np.array([profile.lower, profile.upper], dtype=float)
        return ets

    def _choose_mode(self, w: Sequence[float]) -> str:
        rx, ry, rz = w[3] > 0, w[4] > 0, w[5] > 0
        if not (rx or ry or rz):
            return 'position'
        if rx and ry and rz:
            return 'full'
        if ry and not rz and self._is_pan_type(check_roll=not rx):
            return 'pan_roll' if rx else 'pan'
        return 'mask'

    def _is_pan_type(self, check_roll: bool) -> bool:
        """
        Is the first joint a vertical revolute axis with the tool always in its plane?

        Found numerically: the pan frame is the chain's pose at joint 1 (all joints 0 →
        joint 1 frame), and random configurations must keep the tool position and approach
        (and, without roll, the tool y axis as plane normal) in that frame's x–z plane.
        """
        if self.profile.joints[0].prismatic:
            return False
        rng = np.random.default_rng(7)
        J0 = self._jacob_c(self._fknm, np.zeros(self.dof), None)
        axis = J0[3:, 0]
        if np.linalg.norm(axis) < 0.5 or abs(abs(axis[2]) - 1.0) > 1e-9:
            return False
        # A point on the pan axis: the linear velocity at q=0 is axis × (p - c) for any c on it.
        T0 = self._fk_raw(np.zeros(self.dof))
        p0 = T0[:3, 3]
        v = J0[:3, 0]
        # v = a × (p0 - c) with a = ±z → c_xy = p0_xy - (a × v)_xy (c on the axis, z free).
        a = axis / np.linalg.norm(axis)
        c = p0 - np.cross(v, a)
        self._pan_point = (float(c[0]), float(c[1]))
        # Heading the arm faces at pan 0 (from the tool's y axis, the plane normal, at q=0)
        # and the sense of the pan axis: the heading at pan θ is heading0 + sense·θ.
        y0 = T0[:3, 1]
        self._pan_heading0 = math.atan2(-float(y0[0]), float(y0[1]))
        self._pan_sense = 1.0 if axis[2] > 0 else -1.0
        for _ in range(32):
            q = rng.uniform(self.profile.lower, self.profile.upper)
            T = self._fk_raw(q)
            d = T[:2, 3] - c[:2]
            if np.linalg.norm(d) < 1e-6:
                continue
            n = np.array([-d[1], d[0], 0.0]) / np.linalg.norm(d)
            if abs(T[:3, 0] @ n) > 1e-6:
                return False
            if check_roll and abs(abs(T[:3, 1] @ n) - 1.0) > 1e-6:
                return False
        return True

    # ------------------------------------------------------------------ public

    def fk(self, q: Sequence[float]) -> np.ndarray:
        """Pose of ``tip_link`` in ``base_link`` (4x4) for joints ``q`` (profile order)."""
        return self._fk_raw(self._as_q(q, 'q'))

    def jacobian(self, q: Sequence[float]) -> np.ndarray:
        """Geometric Jacobian (6 x dof) in the base frame: rows vx vy vz wx wy wz."""
        return np.array(self._jacob_c(self._fknm, self._as_q(q, 'q'), None))

    def _weighted_jacobian(self, q: Sequence[float]) -> np.ndarray:
        """
        Jacobian in the tool frame, rows scaled by the task weights.

        Zero-weight rows dropped. Position rows are divided by :meth:`reach` so metres and radians
        compare.
        """
        qa = self._as_q(q, 'q')
        J = np.asarray(self._jacob_c(self._fknm, qa, None))
        R = self._fk_raw(qa)[:3, :3]
        Jt = np.vstack((R.T @ J[:3] / self.reach(), R.T @ J[3:]))
        w = self._weights
        keep = w > 0
        return (np.sqrt(w[keep])[:, None]) * Jt[keep]

    def condition(self, q: Sequence[float]) -> float:
        """
        Condition number of the task-weighted Jacobian (inf at a singularity).

        It rises as the arm nears a singularity (stretched out, wrist aligned); the teleop
        layer slows down as it does.
        """
        s = np.linalg.svd(self._weighted_jacobian(q), compute_uv=False)
        if s.size == 0 or s[-1] <= s[0] * 1e-12:
            return math.inf
        return float(s[0] / s[-1])

    def manipulability(self, q: Sequence[float]) -> float:
        """
        Yoshikawa manipulability √det(J Jᵀ) of the task-weighted Jacobian (0 at a singularity).
        """
        s = np.linalg.svd(self._weighted_jacobian(q), compute_uv=False)
        return float(np.prod(s))

    def reach_centre(self) -> np.ndarray:
        """Return the point :meth:`reach` is measured from: the first joint's origin, base frame (m)."""
        return self._centre.copy()

    def reach(self) -> float:
        """
        Largest distance (m) from the first joint's origin (a point on its axis) to the tip.

        Computed once: the farthest of many random configurations, then pushed outwards by
        bounded optimisation (SciPy), so it is the true maximum within the joint limits.
        """
        if self._reach is None:
            self._reach = self._compute_reach()
        return self._reach

    def ik(
        self, target: Any, seed: Sequence[float] | None = None, *, max_step: float | None = None
    ) -> IKResult:
        """
        Joints that put ``tip_link`` at ``target`` (4x4, base frame).

        :param target: the wanted pose; its orientation is projected onto what the arm can reach
            (see the module docstring).
        :param seed: current joints (profile order); the answer stays on the seed's branch for
            small moves. None: cold start from home.
        :param max_step: if given, no joint moves more than this (rad, m) from the seed; a capped
            answer has ``ok`` False and reason "no_convergence".

        :returns: An :class:`IKResult`; never raises for an unreachable target.

        :raises PoseError: the target is not a valid pose (NaN, inf, not a rotation, wrong shape).
        :raises ValueError: the seed has the wrong length or is not finite, or max_step ≤ 0.
        """
        t0 = _now()
        if max_step is not None and not max_step > 0:
            raise ValueError(f'max_step must be a positive number of rad (or m), got {max_step!r}')
        T, rows = _validate(target)
        seeded = seed is not None
        if seeded:
            q0, s = self._seed(seed)
        else:
            q0, s = self._home, self._home_list
        if self._projects:
            Tg, g = self._project(T, rows, q0, seeded)
        else:
            Tg, g = T, rows
        # One seeded LM search (what _lm does; called directly here, this is the hot path).
        q, solved, _it, _search, E = self._ik_c(
            self._fknm, Tg, q0, ITERATIONS, 1, SOLVER_TOL, 0, self._lm_mask, 1.0, 'chan'
        )
        limits_hit = False
        if solved and E < SOLVER_TOL:
            # Inside the limits, and the largest joint move from the seed, in one pass over
            # floats (numpy's min/max/abs cost more than the whole loop for 6 joints).
            ql = q.tolist()
            lo, hi = self._lower_list, self._upper_list
            jump = 0.0
            for i in range(self.dof):
                v = ql[i]
                if not lo[i] <= v <= hi[i]:
                    q, jump = self._wrap_jump(q, ql, q0)
                    break
                d = v - s[i]
                if d > jump:
                    jump = d
                elif -d > jump:
                    jump = -d
            limits_hit = q is None
            if q is not None and (
                not seeded or jump <= BRANCH_JUMP or not self._is_small_move(q0, Tg)
            ):
                if max_step is not None and jump > max_step:
                    return self._finish(
                        q, Tg, q0, max_step, t0, 'no_convergence', True, True, g, jump
                    )
                # _finish without clip (inside) or cap (jump within max_step), inlined: the
                # tracking hot path. Not ok (FK check failed): "no_convergence", returned.
                pose = self._fkine_c(self._fknm, q, None, None, 0)
                pe, re = _pose_errors(pose.tolist(), g)
                if not self._check_rotation:
                    re = 0.0
                if pe <= POSITION_TOLERANCE and re <= ROTATION_TOLERANCE:
                    return _ik_result(q, True, True, pe, re, 0.0, 'ok', t0, pose)
                return _ik_result(q, False, True, pe, re, pe, 'no_convergence', t0, pose)
        return self._solve_hard(Tg, q0, seeded, max_step, t0, limits_hit)

    # ------------------------------------------------------------------ IK internals

    def _seed(self, seed: Sequence[float]) -> tuple[np.ndarray, list[float]]:
        """
        Return the seed as an array and as floats, clipped into the limits (sensor noise can put
        it just out).
        """
        if type(seed) is np.ndarray and seed.dtype is _F64:
            q = seed  # what np.asarray(seed, dtype=float) returns, without its ~0.1 µs
        else:
            try:
                q = np.asarray(seed, dtype=float)
            except (TypeError, ValueError):
                q = None
        if q is None or q.shape != (self.dof,):
            self._as_q(seed, 'seed')  # raises with the full message
        ql = q.tolist()
        lo, hi = self._lower_list, self._upper_list
        for i in range(self.dof):  # one pass: NaN fails both comparisons, ±inf is out of limits
            if not lo[i] <= ql[i] <= hi[i]:
                q = np.minimum(np.maximum(self._as_q(q, 'seed'), self._lo_in), self._hi_in)
                return q, q.tolist()
        return q, ql

    def _as_q(self, q: Sequence[float], what: str) -> np.ndarray:
        try:
            a = np.asarray(q, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                f'{what} must be {self.dof} numbers (joints {", ".join(self.joint_names)})'
            ) from None
        if a.shape != (self.dof,):
            raise ValueError(
                f'{what} must be {self.dof} numbers (joints {", ".join(self.joint_names)}), got shape {a.shape}'
            )
        if not math.isfinite(sum(a.tolist()) * 0.0):  # NaN or ±inf anywhere → NaN
            raise ValueError(f'{what} contains NaN or infinite values')
        return a

    def _fk_raw(self, q: np.ndarray) -> np.ndarray:
        return self._fkine_c(self._fknm, np.ascontiguousarray(q, dtype=float), None, None, 0)

    def _lm(self, Tg: np.ndarray, q0: np.ndarray) -> tuple[np.ndarray, bool, float]:
        """One seeded LM search without limit rejection (limits are handled by the caller)."""
        q, ok, _it, _search, E = self._ik_c(
            self._fknm, Tg, q0, ITERATIONS, 1, SOLVER_TOL, 0, self._lm_mask, 1.0, 'chan'
        )
        return q, bool(ok) and E < SOLVER_TOL, E

    def _project(
        self, T: np.ndarray, r: list[list[float]], q0: np.ndarray, seeded: bool = True
    ) -> tuple[np.ndarray, list[list[float]]]:
        """
        Return the target (array and rows) with its orientation moved onto the achievable set.

        Unrolled on floats: it runs on every solve of a 4- or 5-DOF arm.
        """
        mode = self._mode
        if mode in ('full', 'position', 'mask'):
            return T, r
        (x0, _, z0, px), (x1, _, z1, py), (x2, _, z2, pz) = r[0], r[1], r[2]
        cx, cy = self._pan_point
        dx, dy = px - cx, py - cy
        h = _hypot(dx, dy)
        if h < 1e-9:
            # Target on the pan axis: any plane reaches it; keep the approach's own heading,
            # or the seed's plane when the approach is vertical too.
            dx, dy = x0, x1
            h = _hypot(dx, dy)
            if h < 1e-9:
                sp = self._fk_raw(q0)
                dx, dy = float(sp[0, 3]) - cx, float(sp[1, 3]) - cy
                h = _hypot(dx, dy) or 1.0
        # The arm plane in its own frame: u (horizontal, outwards), e = base z, normal
        # n = e x u = (-uy, ux, 0). The approach projected into the plane is c u + s e; with
        # b = -s u + c e the tool frame (a, n, b) is right-handed (a x n = b), so the rest
        # of the projection is 2-D arithmetic instead of 3-D Gram-Schmidt and cross products.
        ux, uy = dx / h, dy / h
        c = x0 * ux + x1 * uy
        na = _hypot(c, x2)
        if na < 1e-9:
            c, s = 1.0, 0.0  # approach along the normal: no pitch to keep; point outwards
        else:
            c, s = c / na, x2 / na
        ax, ay, az = c * ux, c * uy, s
        if mode == 'pan_roll':
            # Tool z keeps as much of the target's roll as it can: its part orthogonal to the
            # approach, i.e. its (n, b) components, normalised.
            zn = z1 * ux - z0 * uy
            zb = c * z2 - s * (z0 * ux + z1 * uy)
            m = _hypot(zn, zb)
            if m < 1e-9:
                zn, zb = 0.0, 1.0  # target z along the new approach: any roll; take b = a x n
            else:
                zn, zb = zn / m, zb / m
            # z = zn n + zb b; y = z x a = zb n - zn b.
            sux, suy = s * ux, s * uy
            zx, zy, zz = -zn * uy - zb * sux, zn * ux - zb * suy, zb * c
            yx, yy, yz = -zb * uy + zn * sux, zb * ux + zn * suy, -zn * c
        else:
            # No roll joint: the tool y is ±n. Which sign is the arm's choice, not the
            # target's (its roll is "don't care"): facing the target, or, when tracking, the
            # side the seed faces (an arm reaching back over its top faces away). z = a x y.
            if seeded:
                heading = self._pan_heading0 + self._pan_sense * float(q0[0])
                facing = math.cos(heading) * ux + math.sin(heading) * uy >= 0
            else:
                facing = True
            if facing:
                yx, yy, yz, zx, zy, zz = -uy, ux, 0.0, -s * ux, -s * uy, c
            else:
                yx, yy, yz, zx, zy, zz = uy, -ux, 0.0, s * ux, s * uy, -c
        # Packed bytes viewed as an array: ~0.5 µs cheaper than np.array of a list. The array
        # is read-only, which is all the solver and the checks need of it.
        Tg = _frombuffer(
            _pack_pose(ax, yx, zx, px, ay, yy, zy, py, az, yz, zz, pz, 0.0, 0.0, 0.0, 1.0)
        )
        return Tg.reshape(4, 4), [
            [ax, yx, zx, px],
            [ay, yy, zy, py],
            [az, yz, zz, pz],
            _BOTTOM_ROW,
        ]

    def _wrap_jump(
        self, q: np.ndarray, ql: list[float], near: np.ndarray
    ) -> tuple[np.ndarray | None, float]:
        """
        :meth:`_wrap_into_limits` (``q`` has a joint outside the limits), plus the largest
        joint move from ``near``; (None, inf) when some joint cannot be brought inside.
        """
        qi = self._wrap_into_limits(q, ql, near)
        if qi is None:
            return None, math.inf
        return qi, float(np.max(np.abs(qi - near)))

    def _into_limits(self, q: np.ndarray, near: np.ndarray) -> np.ndarray | None:
        """
        ``q`` with revolute joints turned by whole turns into the limits (closest to
        ``near``), or None when some joint cannot be brought inside.
        """
        ql = q.tolist()
        lo, hi = self._lower_list, self._upper_list
        inside = True
        for i in range(self.dof):
            if not lo[i] <= ql[i] <= hi[i]:
                inside = False
                break
        if inside:
            return q
        return self._wrap_into_limits(q, ql, near)

    def _wrap_into_limits(
        self, q: np.ndarray, ql: list[float], near: np.ndarray
    ) -> np.ndarray | None:
        lo, hi = self._lower_list, self._upper_list
        out = q.copy()
        two_pi = 2.0 * math.pi
        for i in range(self.dof):
            v = ql[i]
            if lo[i] <= v <= hi[i]:
                continue
            if not self._revolute[i]:
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

    def _is_small_move(self, q0: np.ndarray, Tg: np.ndarray) -> bool:
        """
        Is the target within SMALL_MOVE of the seed's pose?

        (Then a big joint jump is a branch flip, not a long move.).
        """
        seed_pose = self._fk_raw(q0)
        return float(np.linalg.norm(seed_pose[:3, 3] - Tg[:3, 3])) < SMALL_MOVE

    def _finish(
        self,
        q: np.ndarray,
        Tg: np.ndarray,
        q0: np.ndarray,
        max_step: float | None,
        t0: float,
        reason_if_not_ok: str = 'no_convergence',
        reachable: bool = True,
        inside: bool = False,
        g: list[list[float]] | None = None,
        jump: float | None = None,
    ) -> IKResult:
        """
        Clip (unless known ``inside`` the limits), cap, FK-check and package one answer.

        :param g: ``Tg``'s rows as floats, when the caller has them.
        :param jump: max |q - q0|, when the caller has it (only with ``inside``).
        """
        if not inside:
            q = np.minimum(np.maximum(q, self._lo_in), self._hi_in)
            jump = None
        capped = False
        if max_step is not None:
            if jump is None:
                d = np.abs(q - q0)
                jump = float(d.max()) if d.size else 0.0
            if jump > max_step:
                q = q0 + (q - q0) * (max_step / jump)
                capped = True
        # The one FK of the answer: the check below and the returned pose.
        pose = self._fk_raw(q)
        # Tg has T's position and the achievable part of its orientation: one pass gives both.
        pe, re = _pose_errors(pose.tolist(), g if g is not None else Tg.tolist())
        if not self._check_rotation:
            re = 0.0
        if pe <= POSITION_TOLERANCE and re <= ROTATION_TOLERANCE and not capped:
            return _ik_result(q, True, True, pe, re, 0.0, 'ok', t0, pose)
        if capped and reachable:
            # Reachable, but farther from the seed than this call may move.
            return _ik_result(q, False, True, pe, re, pe, 'no_convergence', t0, pose)
        return _ik_result(q, False, reachable, pe, re, pe, reason_if_not_ok, t0, pose)

    def _solve_hard(
        self,
        Tg: np.ndarray,
        q0: np.ndarray,
        seeded: bool,
        max_step: float | None,
        t0: float,
        limits_hit: bool,
    ) -> IKResult:
        """
        Return the seeded search failed: restarts for far targets, then the nearest pose.

        :param limits_hit: the seeded search reached the target only outside the limits.
        """
        small = seeded and float(np.linalg.norm(self._fk_raw(q0)[:3, 3] - Tg[:3, 3])) < SMALL_MOVE
        # Beyond the reach sphere no restart can help (the common "dragged past the edge").
        outside = float(np.linalg.norm(Tg[:3, 3] - self._centre)) > self.reach() + 1e-9
        nearest_starts = [q0]
        if not small and not outside:
            found, outside_limits = self._restart_solutions(Tg, q0, seeded)
            limits_hit = limits_hit or bool(outside_limits)
            # Often only one joint is past its limit: clipped, a good start for the bounded
            # search below.
            nearest_starts += outside_limits[:CLIPPED_STARTS]
            if found:
                best = min(found, key=lambda c: float(np.max(np.abs(c - q0))))
                res = self._finish(best, Tg, q0, max_step, t0)
                if res.ok or res.reason == 'no_convergence':
                    return res
                nearest_starts.insert(0, best)
            elif self._mode == 'pan':
                # No roll joint: the same tool direction is also reached facing away (pan
                # + π, leaning back), with tool y and z reversed. Never for a small move:
                # tracking does not switch sides.
                mirrored = Tg.copy()
                mirrored[:3, 1:3] *= -1.0
                alt_found, _ = self._restart_solutions(mirrored, q0, seeded)
                if alt_found:
                    best = min(alt_found, key=lambda c: float(np.max(np.abs(c - q0))))
                    res = self._finish(best, mirrored, q0, max_step, t0)
                    if res.ok or res.reason == 'no_convergence':
                        return res
        qn = self._nearest_of(Tg, nearest_starts)
        reason = 'joint_limits' if limits_hit else 'unreachable'
        res = self._finish(qn, Tg, q0, max_step, t0, reason_if_not_ok=reason, reachable=False)
        if small and res.ok and float(np.max(np.abs(res.q - q0))) > BRANCH_JUMP:
            # Reachable only by leaving the seed's branch: stay, and say so.
            res = self._finish(
                q0, Tg, q0, max_step, t0, reason_if_not_ok='no_convergence', reachable=True
            )
        return res

    def _restart_solutions(
        self, Tg: np.ndarray, q0: np.ndarray, seeded: bool
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """
        LM from home and fixed-seed random starts.

        :returns: (solutions inside the limits, converged solutions outside them). A cold start
            stops at the first good one; a seeded one collects up to 3 to pick the nearest.
        """
        rng = np.random.default_rng(20261123)
        restarts = [self._home] if seeded else []
        restarts += [rng.uniform(self._lo_in, self._hi_in) for _ in range(RESTARTS)]
        found: list[np.ndarray] = []
        outside: list[np.ndarray] = []
        for s in restarts:
            q, converged, _ = self._lm(Tg, s)
            if not converged:
                continue
            qi = self._into_limits(q, q0)
            if qi is None:
                outside.append(q)
                continue
            found.append(qi)
            if not seeded or len(found) >= 3:
                break
        return found, outside

    def _nearest_of(self, Tg: np.ndarray, starts: list[np.ndarray]) -> np.ndarray:
        """Return the best :meth:`_nearest` answer over several starts (stops at one on target)."""
        best, best_cost = starts[0], math.inf
        for s in starts:
            q, cost = self._nearest(Tg, s)
            if cost < best_cost:
                best, best_cost = q, cost
            if cost < 1e-16:
                break
        return best

    def _nearest(self, Tg: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, float]:
        """
        Joints within the limits whose pose is nearest the target.

        Bounded least squares on r(q) = [p(q) - p_t, w (R(q) - R_t)] (the rotation part as
        the 9 matrix entries, whose derivative is exact: dR e_i = ω × R e_i). Each step is a
        Levenberg–Marquardt step on the joints not pressed against a limit, then clipped.
        """
        fk, jac, fknm = self._fkine_c, self._jacob_c, self._fknm
        lo, hi = self._lo_in, self._hi_in
        pt = Tg[:3, 3]
        Rt = Tg[:3, :3]
        wr = NEAREST_ROTATION_WEIGHT if self._check_rotation else 0.0

        def residual(q: np.ndarray) -> np.ndarray:
            P = fk(fknm, q, None, None, 0)
            return np.concatenate((P[:3, 3] - pt, wr * (P[:3, :3] - Rt).ravel(order='F')))

        def jacobian(q: np.ndarray) -> np.ndarray:
            J = jac(fknm, q, None)
            R = fk(fknm, q, None, None, 0)[:3, :3]
            Jw = J[3:]
            # -[c]× ω for each column c of R, stacked: rows of d(vec R)/dq.
            rot = np.empty((9, self.dof))
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

    def _first_joint_origin(self) -> np.ndarray:
        """Origin of the first joint's frame in the base frame (a point on its axis)."""
        T = np.eye(4)
        for et in self._ets:
            if et.isjoint:
                break
            T = T @ et.A()
        return T[:3, 3].copy()

    def _compute_reach(self) -> float:
        from scipy.optimize import minimize

        centre = self._centre
        rng = np.random.default_rng(11)
        samples = rng.uniform(self._lower, self._upper, size=(512, self.dof))
        dists = [float(np.linalg.norm(self._fk_raw(s)[:3, 3] - centre)) for s in samples]
        start = samples[int(np.argmax(dists))]
        sol = minimize(
            lambda q: -float(np.linalg.norm(self._fk_raw(q)[:3, 3] - centre)),
            start,
            bounds=list(zip(self._lower, self._upper)),
            method='L-BFGS-B',
        )
        return max(max(dists), -float(sol.fun))
