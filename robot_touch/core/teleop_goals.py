"""
Teleop's goal inputs: a tip pose, joint positions, the gripper, home.

Each becomes a joint-space goal reached with jerk-limited, phase-synchronised motion whose tip
speed stays under ``cartesian_speed``, and whose path keeps the tip in the workspace box (or
nothing moves). :class:`GoalInputs` is that part of
:class:`~robot_touch.core.teleop_core.TeleopCore`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from robot_touch.core.teleop_inputs import InputRejected, is_empty_pose, named_values
from robot_touch.core.teleop_status import Code, GOAL_MODES, Mode
from robot_touch.errors import PoseError

#: Samples along a previewed move when checking its tip speed.
PREVIEW_SAMPLES = 12
#: Lowest speed scale the tip speed limit applies to a joint-space move.
MIN_MOVE_SCALE = 0.01


class GoalInputs:
    """
    Part of :class:`~robot_touch.core.teleop_core.TeleopCore`: goals and the moves to them.

    Uses the core's state (listed in ``TeleopCore.__init__``); every public method takes its
    lock.
    """

    def on_target_pose(
        self,
        frame_id: str,
        xyz: Sequence[float],
        quat_xyzw: Sequence[float],
        stamp: float = 0.0,
        clock: float | None = None,
        sender: Any = None,
    ) -> Code:
        """
        Absolute tip target in ``frame_id`` ("" = the base link; any frame fixed to it).

        ``clock`` is this computer's time in the stamps' clock (None: stamps are only
        ordered); ``sender`` identifies the publisher (stamps are ordered per sender).

        :returns: The status code this input caused (a rejection code leaves the goal unchanged).
        """
        from robot_touch.core.kinematics import pose_from_xyz_quat

        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                if is_empty_pose(frame_id, stamp, xyz, quat_xyzw):
                    raise InputRejected(
                        Code.INVALID_POSE.value,
                        'target_pose is empty (no frame, no stamp, the origin, no rotation): '
                        'not a target',
                    )
                frame = self._frame(frame_id, 'target_pose')
                try:
                    T = frame @ pose_from_xyz_quat(xyz, quat_xyzw)
                except PoseError as exc:
                    raise InputRejected(Code.INVALID_POSE.value, f'target_pose: {exc}') from None
                self._stamps.check('target_pose', stamp, clock, sender)
            except InputRejected as exc:
                return self._reject(exc)
            seed = self._goal_base()
        clamped_xyz, clamped = self.workspace.clamp(T[:3, 3])
        T[:3, 3] = clamped_xyz
        # IK outside the lock, on a solver of its own: the control loop must not wait for a
        # solve, nor share a solver with it.
        result = self.ik_kin.ik(T, seed=seed)
        with self._lock:
            if self._gate():
                return self._reject(self._gate())
            problem = self._move_to(result.q)
            if problem:
                return self._refuse_move('target', problem)
            self._set_mode(Mode.POSE)
            if not result.ok:
                self._event(
                    Code.UNREACHABLE,
                    f'target not reachable ({result.reason}); moving to the nearest pose, '
                    f'{result.distance * 1000:.1f} mm away',
                )
            elif clamped:
                self._event(
                    Code.CLAMPED,
                    'target outside the workspace box; clamped to '
                    f'{np.round(clamped_xyz, 4).tolist()} m',
                )
            else:
                self._event(Code.OK)
            return self._code

    def on_joint_target(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        stamp: float = 0.0,
        clock: float | None = None,
        sender: Any = None,
    ) -> Code:
        """Move the named joints (arm and/or gripper) to ``positions``; others keep their goal."""
        with self._lock:
            known = self.names + ([self.gripper_spec.name] if self.gripper_spec else [])
            try:
                gate = self._gate()
                if gate:
                    raise gate
                values = named_values('joint_target', names, positions, known)
                self._stamps.check('joint_target', stamp, clock, sender)
            except InputRejected as exc:
                return self._reject(exc)
            goal = self._goal_base()
            clamped: list[str] = []
            arm_named = False
            for i, n in enumerate(self.names):
                if n in values:
                    arm_named = True
                    v = values[n]
                    goal[i] = min(self.limits.upper[i], max(self.limits.lower[i], v))
                    if goal[i] != v:
                        clamped.append(n)
            if arm_named:
                problem = self._move_to(goal)
                if problem:
                    return self._refuse_move('joint_target', problem)
                self._set_mode(Mode.JOINT)
            if self.gripper_spec is not None and self.gripper_spec.name in values:
                v = values[self.gripper_spec.name]
                g = self.gripper_spec.clamp(v)
                if g != v:
                    clamped.append(self.gripper_spec.name)
                self.gripper_gen.move_to([g])
            if clamped:
                self._event(
                    Code.JOINT_LIMIT, f'joint_target clamped into the limits: {", ".join(clamped)}'
                )
            else:
                self._event(Code.OK)
            return self._code

    def on_gripper(self, opening: float) -> Code:
        """Gripper opening 0 (closed) … 1 (open), mapped linearly onto its joint range."""
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                if self.gripper_gen is None:
                    raise InputRejected(
                        Code.UNKNOWN_JOINT.value,
                        f'{self.profile.name} has no gripper output (or include_gripper is false)',
                    )
                v = float(opening)
                if not math.isfinite(v):
                    raise InputRejected(
                        Code.INVALID_VALUE.value, f'gripper: {v} is not a number in 0..1'
                    )
            except InputRejected as exc:
                return self._reject(exc)
            c = min(1.0, max(0.0, v))
            spec = self.gripper_spec
            self.gripper_gen.move_to([spec.lower + c * (spec.upper - spec.lower)])
            if c != v:
                self._event(Code.CLAMPED, f'gripper opening {v} outside 0..1; clamped to {c}')
            else:
                self._event(Code.OK)
            return self._code

    def home(self) -> tuple[bool, str]:
        """Move to the profile's home joints. Returns (accepted, message)."""
        with self._lock:
            gate = self._gate()
            if gate:
                return False, f'not homing: {gate.detail}'
            problem = self._move_to(np.array(self.profile.home))
            if problem:
                self._refuse_move('home', problem)
                return False, f'not homing: {problem}'
            self._set_mode(Mode.HOME)
            self._event(Code.OK, 'homing')
            return True, 'moving to home'

    def _frame(self, frame_id: str, topic: str, extra: Sequence[str] = ()) -> np.ndarray:
        """
        Return the pose in the base frame of ``frame_id``, a frame fixed to it ("" = base link).

        InputRejected naming the accepted frames otherwise (lock held).
        """
        T = self.frames.get(frame_id or self.profile.base_link)
        if T is None:
            accepted = sorted(self.frames) + list(extra)
            frames = ', '.join(map(repr, accepted))
            raise InputRejected(
                Code.UNKNOWN_FRAME.value,
                f'{topic} frame_id {frame_id!r}: use one of {frames} (or empty)',
            )
        return T

    def _goal_base(self) -> np.ndarray:
        """
        Return the joints a new goal starts from (a copy; lock held).

        The goal being moved to while moving to one (a target given joint by joint adds up),
        else the setpoint.
        """
        return self.gen.target if self._mode in GOAL_MODES else self.gen.position

    def _set_mode(self, mode: Mode) -> None:
        """Switch to a mode other than jogging (lock held): any jog command is forgotten."""
        self._mode = mode
        self._twist = None
        self._joint_velocity = None

    def _move_to(self, goal: np.ndarray, check_workspace: bool = True) -> str | None:
        """
        Start a joint-space move, slowed so the tip stays under ``cartesian_speed`` (lock held).

        The move is previewed (phase-synchronised, so slowing it scales the tip speed along
        the same path) and its velocity limits scaled by limit / peak tip speed; a second
        preview corrects for moves too short to reach their velocity limits.

        :returns: None, or (nothing moved) why the move would take the tip out of the workspace
            box.
        """
        limit = self.config.cartesian_speed
        scale = 1.0
        for _ in range(2):
            positions, velocities = self.gen.preview_move(
                goal, self._override * scale, PREVIEW_SAMPLES
            )
            peak = max(
                (
                    float(np.linalg.norm(self.kin.jacobian(q)[:3] @ v))
                    for q, v in zip(positions, velocities)
                ),
                default=0.0,
            )
            if peak <= limit:
                break
            scale *= limit / peak
        scale = max(scale, MIN_MOVE_SCALE)
        if check_workspace:
            problem = self.guard.move_problem(self.gen, goal, self._override * scale)
            if problem:
                return problem
        self._move_scale = scale
        self.gen.set_speed_scale(self._override * self._move_scale)
        self.gen.move_to(goal)
        return None

    def _refuse_move(self, what: str, problem: str) -> Code:
        """Return a goal whose move would leave the workspace box: nothing moves (lock held)."""
        self._event(Code.UNREACHABLE, f'{what} refused: {problem}; not moving')
        return self._code
