"""
:class:`ArmKinematics`: FK, IK, Jacobian and dexterity measures of one arm profile.

The facade of the package: it loads the profile's chain (:mod:`.rtb_adapter`), projects
targets for arms with fewer than 6 joints (:mod:`.projection`), runs the seeded IK search (the
hot path, here), and falls back to restarts and the nearest reachable pose (:mod:`.search`).

Joint limits are always enforced on the returned ``q`` (clip, then FK of the clipped ``q``),
so every reported error belongs to the configuration actually returned.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Sequence

import numpy as np
from robot_touch.core.kinematics.limits import JointBounds
from robot_touch.core.kinematics.poses import pose_errors, validate_rows
from robot_touch.core.kinematics.projection import TargetProjection
from robot_touch.core.kinematics.reach import compute_reach, first_joint_origin
from robot_touch.core.kinematics.result import (
    BRANCH_JUMP,
    CLIPPED_STARTS,
    ik_result,
    IKResult,
    ITERATIONS,
    NEAREST_ROTATION_WEIGHT,
    POSITION_TOLERANCE,
    ROTATION_TOLERANCE,
    SMALL_MOVE,
    SOLVER_TOL,
)
from robot_touch.core.kinematics.rtb_adapter import load_arm_chain
from robot_touch.core.kinematics.search import nearest_of, restart_solutions
from robot_touch.core.profile import ArmProfile

_F64 = np.dtype(float)
_now = time.perf_counter  # bound once: the IK hot path reads it on every solve


class ArmKinematics:
    """
    FK, IK, Jacobian and dexterity measures of one arm profile (joints in profile order).

    Threads: one instance may be shared by several threads (teleop solves IK on its executor
    thread while its control thread asks for FK, Jacobians and condition numbers). Every call
    into rtb's C extension holds the chain's lock for that call only
    (:class:`~robot_touch.core.kinematics.rtb_adapter.CompiledChain`), the rest is pure
    functions of the arguments and of state fixed at construction, and the lazily computed
    reach is computed once under its own lock. So no call waits for a whole IK search, and
    every answer equals the single-threaded one (``test_kinematics_threads.py`` checks it).

    :param profile: a loaded :class:`~robot_touch.core.profile.ArmProfile`.

    :raises ProfileError: the URDF cannot be read by rtb, or its chain base_link → tip_link does
        not hold exactly the profile's arm joints (:func:`.rtb_adapter.load_arm_chain`).
    """

    def __init__(self, profile: ArmProfile) -> None:
        self.profile = profile
        self.dof = profile.dof
        self.joint_names = list(profile.joint_names)
        self.chain = load_arm_chain(profile)
        self._fkine = self.chain.fkine
        self._ik_lm = self.chain.ik_lm
        self._bounds = JointBounds(
            profile.lower, profile.upper, [not j.prismatic for j in profile.joints]
        )
        self._lo_in, self._hi_in = self._bounds.lo_in, self._bounds.hi_in
        self._lower_list, self._upper_list = self._bounds.lo_list, self._bounds.hi_list
        self._home = self._bounds.clip(np.array(profile.home, dtype=float))
        self._home_list = self._home.tolist()
        self._reach: float | None = None
        self._reach_lock = threading.Lock()
        self._centre = first_joint_origin(self.chain.ets)
        w = profile.task_weights
        self._weights = np.array(w, dtype=float)
        wp = [v for v in w[:3] if v > 0]
        wr = [v for v in w[3:] if v > 0]
        pos_w = sum(wp) / len(wp) if wp else 0.0
        rot_w = sum(wr) / len(wr) if wr else 0.0
        self._projection = TargetProjection(profile, self.chain, self._fk_raw)
        self._mode = self._projection.mode
        if self._mode == 'mask':
            # Weight pattern this package cannot project: rtb's base-frame mask as given.
            self._mask = np.array(w, dtype=float)
        else:
            self._mask = np.array([pos_w] * 3 + [rot_w] * 3, dtype=float)
        self._check_rotation = self._mode != 'position'
        self._projects = self._projection.projects
        self._project = self._projection.project
        # rtb weights the error by diag(mask), or by the identity when given None: the same
        # numbers (checked bit for bit), without converting a 6-vector on every call.
        self._lm_mask = None if bool(np.all(self._mask == 1.0)) else self._mask

    # ------------------------------------------------------------------ public

    def fk(self, q: Sequence[float]) -> np.ndarray:
        """Return the pose of ``tip_link`` in ``base_link`` (4x4) for joints ``q``."""
        return self._fk_raw(self._as_q(q, 'q'))

    def jacobian(self, q: Sequence[float]) -> np.ndarray:
        """Return the geometric Jacobian (6 x dof) in the base frame: rows vx vy vz wx wy wz."""
        return np.array(self.chain.jacob0(self._as_q(q, 'q')))

    def _weighted_jacobian(self, q: Sequence[float]) -> np.ndarray:
        """
        Return the Jacobian in the tool frame, rows scaled by the task weights.

        Zero-weight rows dropped. Position rows are divided by :meth:`reach` so metres and radians
        compare.
        """
        qa = self._as_q(q, 'q')
        J = np.asarray(self.chain.jacob0(qa))
        R = self._fk_raw(qa)[:3, :3]
        Jt = np.vstack((R.T @ J[:3] / self.reach(), R.T @ J[3:]))
        w = self._weights
        keep = w > 0
        return (np.sqrt(w[keep])[:, None]) * Jt[keep]

    def condition(self, q: Sequence[float]) -> float:
        """
        Return the condition number of the task-weighted Jacobian (inf at a singularity).

        It rises as the arm nears a singularity (stretched out, wrist aligned); the teleop
        layer slows down as it does.
        """
        s = np.linalg.svd(self._weighted_jacobian(q), compute_uv=False)
        if s.size == 0 or s[-1] <= s[0] * 1e-12:
            return math.inf
        return float(s[0] / s[-1])

    def manipulability(self, q: Sequence[float]) -> float:
        """Return Yoshikawa's manipulability √det(J Jᵀ) of the weighted Jacobian (0: singular)."""
        s = np.linalg.svd(self._weighted_jacobian(q), compute_uv=False)
        return float(np.prod(s))

    def reach_centre(self) -> np.ndarray:
        """Return the point :meth:`reach` is measured from: the first joint's origin (m)."""
        return self._centre.copy()

    def reach(self) -> float:
        """
        Return the largest distance (m) from the first joint's origin (on its axis) to the tip.

        Computed once (:func:`~robot_touch.core.kinematics.reach.compute_reach`): the true maximum
        within the joint limits.
        """
        if self._reach is None:
            with self._reach_lock:
                if self._reach is None:
                    self._reach = compute_reach(
                        self._fk_raw, self._centre, self._bounds.lower, self._bounds.upper
                    )
        return self._reach

    def ik(
        self, target: Any, seed: Sequence[float] | None = None, *, max_step: float | None = None
    ) -> IKResult:
        """
        Return the joints that put ``tip_link`` at ``target`` (4x4, base frame).

        :param target: the wanted pose; its orientation is projected onto what the arm can reach
            (see :mod:`robot_touch.core.kinematics.projection`).
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
        T, rows = validate_rows(target)
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
        q, solved, E = self._ik_lm(
            Tg, q0, iterations=ITERATIONS, tol=SOLVER_TOL, mask=self._lm_mask
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
                    q, jump = self._bounds.wrap_jump(q, ql, q0)
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
                    return self._finish(q, Tg, q0, max_step, t0, inside=True, g=g, jump=jump)
                # _finish without clip (inside) or cap (jump within max_step), inlined: the
                # tracking hot path. Not ok (FK check failed): "no_convergence", returned.
                pose = self._fkine(q)
                pe, re = pose_errors(pose.tolist(), g)
                if not self._check_rotation:
                    re = 0.0
                if pe <= POSITION_TOLERANCE and re <= ROTATION_TOLERANCE:
                    return ik_result(
                        q,
                        ok=True,
                        reachable=True,
                        position_error=pe,
                        rotation_error=re,
                        distance=0.0,
                        reason='ok',
                        t0=t0,
                        pose=pose,
                    )
                return ik_result(
                    q,
                    ok=False,
                    reachable=True,
                    position_error=pe,
                    rotation_error=re,
                    distance=pe,
                    reason='no_convergence',
                    t0=t0,
                    pose=pose,
                )
        return self._solve_hard(Tg, q0, seeded, max_step, t0, limits_hit)

    # ------------------------------------------------------------------ IK internals

    def _seed(self, seed: Sequence[float]) -> tuple[np.ndarray, list[float]]:
        """
        Return the seed as an array and as floats, clipped into the limits.

        Sensor noise can put it just out.
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
                q = self._bounds.clip(self._as_q(q, 'seed'))
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
                f'{what} must be {self.dof} numbers (joints {", ".join(self.joint_names)}), '
                f'got shape {a.shape}'
            )
        if not math.isfinite(sum(a.tolist()) * 0.0):  # NaN or ±inf anywhere → NaN
            raise ValueError(f'{what} contains NaN or infinite values')
        return a

    def _fk_raw(self, q: np.ndarray) -> np.ndarray:
        return self._fkine(np.ascontiguousarray(q, dtype=float))

    def _lm(self, Tg: np.ndarray, q0: np.ndarray) -> tuple[np.ndarray, bool, float]:
        """Run one seeded LM search without limit rejection (limits are the caller's)."""
        q, ok, E = self._ik_lm(
            Tg, q0, iterations=ITERATIONS, tol=SOLVER_TOL, mask=self._lm_mask
        )
        return q, bool(ok) and E < SOLVER_TOL, E

    def _is_small_move(self, q0: np.ndarray, Tg: np.ndarray) -> bool:
        """
        Return True if the target is within SMALL_MOVE of the seed's pose.

        Then a big joint jump is a branch flip, not a long move.
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
        *,
        reason_if_not_ok: str = 'no_convergence',
        reachable: bool = True,
        inside: bool = False,
        g: list[list[float]] | None = None,
        jump: float | None = None,
    ) -> IKResult:
        """
        Clip (unless known ``inside`` the limits), cap, FK-check and package one answer.

        :param reason_if_not_ok: the reason of an answer off target (not capped).
        :param reachable: what the answer says of the target when it is off target.
        :param g: ``Tg``'s rows as floats, when the caller has them.
        :param jump: max |q - q0|, when the caller has it (only with ``inside``).
        """
        if not inside:
            q = self._bounds.clip(q)
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
        pe, re = pose_errors(pose.tolist(), g if g is not None else Tg.tolist())
        if not self._check_rotation:
            re = 0.0
        errors = {'position_error': pe, 'rotation_error': re, 't0': t0, 'pose': pose}
        if pe <= POSITION_TOLERANCE and re <= ROTATION_TOLERANCE and not capped:
            return ik_result(q, ok=True, reachable=True, distance=0.0, reason='ok', **errors)
        if capped and reachable:
            # Reachable, but farther from the seed than this call may move.
            return ik_result(
                q, ok=False, reachable=True, distance=pe, reason='no_convergence', **errors
            )
        return ik_result(
            q, ok=False, reachable=reachable, distance=pe, reason=reason_if_not_ok, **errors
        )

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
        Answer when the seeded search failed: restarts for far targets, then the nearest pose.

        :param limits_hit: the seeded search reached the target only outside the limits.
        """
        small = seeded and self._is_small_move(q0, Tg)
        # Beyond the reach sphere no restart can help (the common "dragged past the edge").
        outside = float(np.linalg.norm(Tg[:3, 3] - self._centre)) > self.reach() + 1e-9
        nearest_starts = [q0]
        if not small and not outside:
            found, outside_limits = restart_solutions(
                self._lm, self._bounds, Tg, q0, seeded, self._home
            )
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
                alt_found, _ = restart_solutions(
                    self._lm, self._bounds, mirrored, q0, seeded, self._home
                )
                if alt_found:
                    best = min(alt_found, key=lambda c: float(np.max(np.abs(c - q0))))
                    res = self._finish(best, mirrored, q0, max_step, t0)
                    if res.ok or res.reason == 'no_convergence':
                        return res
        weight = NEAREST_ROTATION_WEIGHT if self._check_rotation else 0.0
        qn = nearest_of(self.chain, self._bounds, Tg, nearest_starts, weight)
        reason = 'joint_limits' if limits_hit else 'unreachable'
        res = self._finish(qn, Tg, q0, max_step, t0, reason_if_not_ok=reason, reachable=False)
        if small and res.ok and float(np.max(np.abs(res.q - q0))) > BRANCH_JUMP:
            # Reachable only by leaving the seed's branch: stay, and say so.
            res = self._finish(
                q0, Tg, q0, max_step, t0, reason_if_not_ok='no_convergence', reachable=True
            )
        return res
