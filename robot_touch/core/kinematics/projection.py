"""
Target orientations projected onto what an arm with fewer than 6 joints can reach.

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
frame in the plane) is checked numerically when :class:`TargetProjection` is built; other
weight patterns fall back to rtb's base-frame mask with the weights as given, which is only
an approximation (documented in ``config/arms/README.md``). The non-zero weights set the
relative importance of position (mean of the x y z weights) and orientation (mean of the
rotation weights) in the solver's cost.
"""

from __future__ import annotations

import math
import struct
from typing import Callable, Sequence

import numpy as np
from robot_touch.core.kinematics.rtb_adapter import CompiledChain
from robot_touch.core.profile import ArmProfile

_pack_pose = struct.Struct('16d').pack  # 16 floats, native order: what np.frombuffer reads
_frombuffer = np.frombuffer
_BOTTOM_ROW = (0.0, 0.0, 0.0, 1.0)
_hypot = math.hypot

#: The projection modes: the target as given ("full"), position only ("position"), projected
#: into the arm plane of a pan-type arm with ("pan_roll") or without ("pan") a roll joint, or
#: rtb's base-frame mask with the weights as given ("mask").
MODES = ('full', 'position', 'pan', 'pan_roll', 'mask')


class TargetProjection:
    """
    Move a target's orientation onto the set an arm can achieve (see the module docstring).

    :param profile: the arm's profile (its joints, limits and ``ik.task_weights``).
    :param chain: the arm's compiled chain, used to recognise a pan-type arm.
    :param fk: the tip pose (4x4) of a joint vector (any float sequence).

    :ivar mode: one of :data:`MODES`, from the task weights and the arm's geometry.
    :ivar projects: True when :meth:`project` changes targets ("pan" or "pan_roll").
    :ivar pan_point: (x, y) of a point on the pan axis (pan-type arms only).
    :ivar heading0: the heading the arm faces at pan 0 (rad, pan-type arms only).
    :ivar sense: +1 or -1: the heading at pan θ is ``heading0 + sense·θ``.
    """

    def __init__(
        self,
        profile: ArmProfile,
        chain: CompiledChain,
        fk: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self._chain = chain
        self._fk = fk
        self.dof = profile.dof
        self.pan_point = (0.0, 0.0)
        self.heading0 = 0.0
        self.sense = 1.0
        self.mode = self._choose_mode(profile, profile.task_weights)
        self.projects = self.mode in ('pan', 'pan_roll')

    def _choose_mode(self, profile: ArmProfile, w: Sequence[float]) -> str:
        rx, ry, rz = w[3] > 0, w[4] > 0, w[5] > 0
        if not (rx or ry or rz):
            return 'position'
        if rx and ry and rz:
            return 'full'
        if ry and not rz and self._is_pan_type(profile, check_roll=not rx):
            return 'pan_roll' if rx else 'pan'
        return 'mask'

    def _is_pan_type(self, profile: ArmProfile, check_roll: bool) -> bool:
        """
        Return True if the first joint is a vertical revolute axis with the tool in its plane.

        Found numerically: the pan frame is the chain's pose at joint 1 (all joints 0 →
        joint 1 frame), and random configurations must keep the tool position and approach
        (and, without roll, the tool y axis as plane normal) in that frame's x–z plane.
        """
        if profile.joints[0].prismatic:
            return False
        rng = np.random.default_rng(7)
        J0 = self._chain.jacob0(np.zeros(self.dof))
        axis = J0[3:, 0]
        if np.linalg.norm(axis) < 0.5 or abs(abs(axis[2]) - 1.0) > 1e-9:
            return False
        # A point on the pan axis: the linear velocity at q=0 is axis × (p - c) for any c on it.
        T0 = self._fk(np.zeros(self.dof))
        p0 = T0[:3, 3]
        v = J0[:3, 0]
        # v = a × (p0 - c) with a = ±z → c_xy = p0_xy - (a × v)_xy (c on the axis, z free).
        a = axis / np.linalg.norm(axis)
        c = p0 - np.cross(v, a)
        self.pan_point = (float(c[0]), float(c[1]))
        # Heading the arm faces at pan 0 (from the tool's y axis, the plane normal, at q=0)
        # and the sense of the pan axis: the heading at pan θ is heading0 + sense·θ.
        y0 = T0[:3, 1]
        self.heading0 = math.atan2(-float(y0[0]), float(y0[1]))
        self.sense = 1.0 if axis[2] > 0 else -1.0
        for _ in range(32):
            q = rng.uniform(profile.lower, profile.upper)
            T = self._fk(q)
            d = T[:2, 3] - c[:2]
            if np.linalg.norm(d) < 1e-6:
                continue
            n = np.array([-d[1], d[0], 0.0]) / np.linalg.norm(d)
            if abs(T[:3, 0] @ n) > 1e-6:
                return False
            if check_roll and abs(abs(T[:3, 1] @ n) - 1.0) > 1e-6:
                return False
        return True

    def project(
        self, T: np.ndarray, r: list[list[float]], q0: np.ndarray, seeded: bool = True
    ) -> tuple[np.ndarray, list[list[float]]]:
        """
        Return the target (array and rows) with its orientation moved onto the achievable set.

        Unrolled on floats: it runs on every solve of a 4- or 5-DOF arm.
        """
        mode = self.mode
        if mode in ('full', 'position', 'mask'):
            return T, r
        (x0, _, z0, px), (x1, _, z1, py), (x2, _, z2, pz) = r[0], r[1], r[2]
        cx, cy = self.pan_point
        dx, dy = px - cx, py - cy
        h = _hypot(dx, dy)
        if h < 1e-9:
            # Target on the pan axis: any plane reaches it; keep the approach's own heading,
            # or the seed's plane when the approach is vertical too.
            dx, dy = x0, x1
            h = _hypot(dx, dy)
            if h < 1e-9:
                sp = self._fk(q0)
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
                heading = self.heading0 + self.sense * float(q0[0])
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
