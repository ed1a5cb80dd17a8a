"""
A MuJoCo simulation of an arm profile: servo-like position actuators, gravity, real-time stepping.

No ROS here: ``robot_touch.nodes.sim_arm`` only translates messages to and from this module.

The model is compiled from the profile's URDF (the same description Gazebo loads) with
one position actuator per joint, arm joints first, then the gripper. Each actuator behaves
like a hobby bus servo's position loop: stiff enough to hold the arm against gravity, force
limited to the URDF's ``effort``, critically damped. Gains are derived from the link masses
(see :func:`servo_gains`) unless given. Torque can be switched off per joint
(:meth:`MujocoArm.set_torque`, free drive): the actuator goes passive and the joint falls
under gravity; switched on again, it holds where the joint is.

Typical use::

    arm = MujocoArm(load_profile("so101"))
    arm.command([0.3, -0.5, 0.8, 0.0, 0.0])   # arm joints (+ gripper as a last value)
    arm.step(500)                             # 1 s of simulated time at the default 2 ms
    print(arm.state().positions)
"""

from __future__ import annotations

import math
import threading
from typing import Sequence

import mujoco
import numpy as np
from robot_touch.core.profile import ArmProfile, JointSpec
from robot_touch.core.trajectory import parse_trajectory, TrajectoryError, TrajectorySampler
from robot_touch.errors import RobotTouchError
from robot_touch.sim.common import (
    ArmState,
    MAX_TIMESTEP,
    parse_positions,
    RenderUnavailable,
    SimCommandError,
)
from robot_touch.sim.model import (
    build_spec,
    check_timestep,
    HOLD_ERROR_M,
    HOLD_ERROR_RAD,
    MAX_OMEGA_DT,
    MIN_ARMATURE,
    MIN_ARMATURE_FRACTION,
    MIN_BANDWIDTH,
    mujoco_urdf,
    per_joint,
    servo_gains,
    ServoGains,
)
from robot_touch.sim.render import OffscreenRenderer
from robot_touch.sim.runner import RealTimeRunner, RunnerStats


class MujocoArm:
    """
    The simulated arm: commands in, physics, state out. Thread-safe.

    :param profile: the arm profile; joint order is its arm joints, then the gripper.
    :param timestep: physics step (s), at most :data:`MAX_TIMESTEP`.
    :param kp, kv: stiffness: (N m/rad, N m s/rad; N/m, N s/m for prismatic joints); None or 0 =
        derived from the link masses (:func:`servo_gains`).
    :param damping overrides, one value for every joint or one per joint: see ``kp, kv:
        stiffness``.
    :param initial_positions: starting joint positions (clamped to the limits); None = home.

    :raises ValueError: a bad timestep, gain or initial position.
    :raises RobotTouchError: MuJoCo cannot compile the profile's URDF.
    """

    def __init__(
        self,
        profile: ArmProfile,
        timestep: float = MAX_TIMESTEP,
        kp: Sequence[float] | None = None,
        kv: Sequence[float] | None = None,
        initial_positions: Sequence[float] | None = None,
    ) -> None:
        self.profile = profile
        self.specs: tuple[JointSpec, ...] = profile.all_joints
        self.names: tuple[str, ...] = tuple(s.name for s in self.specs)
        self.lower = np.array([s.lower for s in self.specs])
        self.upper = np.array([s.upper for s in self.specs])
        n = len(self.specs)
        kp_override = per_joint(kp, n, 'kp')
        kv_override = per_joint(kv, n, 'kv')

        spec = build_spec(profile, timestep)
        for s in self.specs:
            joint = spec.joint(s.name)
            if joint is None:
                raise RobotTouchError(f'{profile.urdf_path}: MuJoCo found no joint {s.name!r}')
            # Limits come from the profile (the URDF's are checked to agree on load).
            joint.range = [s.lower, s.upper]
            joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        plain = spec.compile()
        joint_ids = [
            mujoco.mj_name2id(plain, mujoco.mjtObj.mjOBJ_JOINT, name) for name in self.names
        ]
        limits = []
        for j in joint_ids:
            low, high = plain.jnt_actfrcrange[j]
            limits.append(
                float(max(abs(low), abs(high)))
                if plain.jnt_actfrclimited[j] and high > low
                else math.inf
            )
        gains = servo_gains(plain, joint_ids, self.specs, limits, kp_override, kv_override)
        self.gains: tuple[ServoGains, ...] = tuple(gains)
        for s, g in zip(self.specs, self.gains):
            spec.joint(s.name).armature = g.armature
            act = spec.add_actuator(
                name=f'{s.name}_servo', target=s.name, trntype=mujoco.mjtTrn.mjTRN_JOINT
            )
            act.set_to_position(kp=g.kp, kv=g.kv)
            act.ctrlrange = [s.lower, s.upper]
            act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            if math.isfinite(g.force_limit):
                act.forcerange = [-g.force_limit, g.force_limit]
                act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        self.model: mujoco.MjModel = spec.compile()
        self.data: mujoco.MjData = mujoco.MjData(self.model)
        self._qadr = [
            int(self.model.jnt_qposadr[self.model.joint(name).id]) for name in self.names
        ]
        self._dadr = [int(self.model.jnt_dofadr[self.model.joint(name).id]) for name in self.names]
        self._lock = threading.RLock()
        self._trajectory: TrajectorySampler | None = None
        # the servos' position loops, kept while an actuator is passive (torque off)
        self._gainprm = self.model.actuator_gainprm.copy()
        self._biasprm = self.model.actuator_biasprm.copy()
        self.released = np.zeros(n, dtype=bool)

        start = (
            np.array([s.home for s in self.specs])
            if initial_positions is None
            else np.asarray(initial_positions, dtype=float)
        )
        if start.shape != (n,) or not np.all(np.isfinite(start)):
            raise ValueError(
                f'initial_positions must be {n} finite numbers ({", ".join(self.names)}), '
                f'got {list(start)}'
            )
        start = np.clip(start, self.lower, self.upper)
        self.data.qpos[self._qadr] = start
        self.data.ctrl[:] = start
        mujoco.mj_forward(self.model, self.data)

    # ------------------------------------------------------------------ commands

    @property
    def dof(self) -> int:
        """Return the number of arm joints (without the gripper)."""
        return self.profile.dof

    @property
    def timestep(self) -> float:
        """Physics step (s)."""
        return float(self.model.opt.timestep)

    @property
    def time(self) -> float:
        """Return the simulated time since the start (s)."""
        return float(self.data.time)

    def command(self, positions: Sequence[float]) -> list[str]:
        """
        Set position targets, like ``forward_position_controller/commands``.

        :param positions: the arm joints in profile order, plus the gripper as a last value when
            the profile has one (``dof`` or ``dof + 1`` values).

        :returns: Names of the joints whose target was outside the limits and has been clamped.

        :raises SimCommandError: wrong length or a value that is not finite; nothing changes.
        """
        try:
            values = np.asarray(list(positions), dtype=float)
        except (TypeError, ValueError):
            raise SimCommandError(
                f'command ignored: positions must be numbers, got {positions!r:.80}'
            ) from None
        allowed = {self.dof, len(self.names)}
        if values.ndim != 1 or len(values) not in allowed:
            expected = ' or '.join(str(k) for k in sorted(allowed))
            raise SimCommandError(
                f'command ignored: {values.size} values, expected {expected} '
                f'({", ".join(self.names)})'
            )
        self._check_finite(values, self.names)
        self._refuse_in_free_drive('command ignored')
        indices = list(range(len(values)))
        clamped = self._clamped_names(values, indices)
        with self._lock:
            self._trajectory = None  # the newest command wins, as when switching controllers
            self.data.ctrl[indices] = np.clip(values, self.lower[indices], self.upper[indices])
        return clamped

    def follow(
        self,
        names: Sequence[str],
        times: Sequence[float],
        positions: Sequence[Sequence[float]],
        velocities: Sequence[Sequence[float]] | None = None,
        delay: float = 0.0,
        accelerations: Sequence[Sequence[float]] | None = None,
    ) -> list[str]:
        """
        Execute a joint trajectory by simulated time, like ``arm_controller/joint_trajectory``.

        Validated and sampled by :mod:`robot_touch.core.trajectory`, as the serial bridge does.

        :param names: the joints the trajectory moves (any of the profile's, any order).
        :param times: time from start of each point (s), strictly increasing.
        :param positions: one row per point, one value per name.
        :param velocities: one row per point on every point, or None/empty rows for linear
            interpolation.
        :param delay: seconds from now until the trajectory starts (a header stamp in the future);
            a negative delay (a stamp in the past) starts it now.
        :param accelerations: as ``velocities`` (only with them): quintic interpolation.

        An empty trajectory stops the current one and holds the joints where they are.

        :returns: Names of joints with a point outside the limits (clamped).

        :raises SimCommandError: unknown or repeated names, bad times, wrong lengths, NaN,
            velocities on some points only.
        """
        try:
            parsed = parse_trajectory(
                names, times, positions, self.names, velocities, accelerations
            )
        except TrajectoryError as exc:
            raise SimCommandError(f'trajectory ignored: {exc}') from None
        if parsed is None:
            with self._lock:
                self._trajectory = None
                self.data.ctrl[:] = np.clip(self.data.qpos[self._qadr], self.lower, self.upper)
            return []
        if not math.isfinite(delay):
            raise SimCommandError(f'trajectory ignored: start delay {delay} is not finite')
        self._refuse_in_free_drive('trajectory ignored')
        indices = list(parsed.indices)
        p = parsed.positions
        clamped = sorted({nm for row in p for nm in self._clamped_names(row, indices)})
        parsed = parsed.with_positions(np.clip(p, self.lower[indices], self.upper[indices]))
        with self._lock:
            start = self.data.ctrl[indices].copy()
            self._trajectory = TrajectorySampler(
                parsed, self.data.time + max(0.0, delay), start
            )
        return clamped

    def set_torque(self, enabled: bool, joints: Sequence[str] | None = None) -> None:
        """
        Switch torque on or off for ``joints`` (None: every joint).

        As the bridge's ``torque`` services do on a real arm. Off: the actuator is passive (no
        force; the joint falls under gravity, or is moved by whatever pushes it). On: its target
        becomes where the joint is, then its position loop acts again, so it holds there without
        a jump.

        :raises SimCommandError: an unknown joint.
        """
        names = list(self.names) if joints is None else list(joints)
        unknown = [nm for nm in names if nm not in self.names]
        if unknown or not names:
            raise SimCommandError(
                f'unknown joint {", ".join(map(repr, unknown)) or "(none given)"} '
                f'(joints: {", ".join(self.names)})'
            )
        indices = [self.names.index(nm) for nm in names]
        with self._lock:
            for i in indices:
                if enabled:
                    qpos = self.data.qpos[self._qadr[i]]
                    self.data.ctrl[i] = min(self.upper[i], max(self.lower[i], qpos))
                    self.model.actuator_gainprm[i] = self._gainprm[i]
                    self.model.actuator_biasprm[i] = self._biasprm[i]
                else:
                    self.model.actuator_gainprm[i] = 0.0
                    self.model.actuator_biasprm[i] = 0.0
                self.released[i] = not enabled
            if not enabled:
                self._trajectory = None

    def _refuse_in_free_drive(self, what: str) -> None:
        if self.released.any():
            released = ', '.join(nm for nm, r in zip(self.names, self.released) if r)
            raise SimCommandError(
                f'{what}: free drive ({released} released): the arm holds until every joint '
                'holds torque again'
            )

    @property
    def following(self) -> bool:
        """Return True while a trajectory has points still ahead."""
        with self._lock:
            traj = self._trajectory
            return traj is not None and self.data.time < traj.end

    def _check_finite(
        self, values: np.ndarray, names: Sequence[str], what: str = 'command ignored'
    ) -> None:
        bad = ~np.isfinite(values)
        if np.any(bad):
            columns = sorted({int(c) for c in np.argwhere(bad)[:, -1]})
            raise SimCommandError(
                f'{what}: not a number for {", ".join(names[c] for c in columns)}'
            )

    def _clamped_names(self, values: np.ndarray, indices: Sequence[int]) -> list[str]:
        low, high = self.lower[indices], self.upper[indices]
        return [
            self.names[i] for i, v, lo, hi in zip(indices, values, low, high) if v < lo or v > hi
        ]

    # ------------------------------------------------------------------ physics

    def step(self, count: int = 1) -> None:
        """Advance the physics by ``count`` time steps."""
        with self._lock:
            model, data = self.model, self.data
            for _ in range(count):
                traj = self._trajectory
                if traj is not None:
                    data.ctrl[traj.indices] = traj.sample(data.time)
                mujoco.mj_step(model, data)

    def run_for(self, seconds: float) -> None:
        """Advance the physics by ``seconds`` of simulated time (rounded to whole steps)."""
        self.step(max(0, int(round(seconds / self.timestep))))

    def state(self) -> ArmState:
        """Return the joints now (copies, safe to keep)."""
        with self._lock:
            return ArmState(
                time=float(self.data.time),
                names=self.names,
                positions=self.data.qpos[self._qadr].copy(),
                velocities=self.data.qvel[self._dadr].copy(),
                efforts=self.data.actuator_force.copy(),
            )

    def targets(self) -> np.ndarray:
        """Return the position targets now (the actuators' ctrl), in joint order."""
        with self._lock:
            return self.data.ctrl.copy()

    def qpos(self) -> np.ndarray:
        """Return a copy of the whole MuJoCo position vector (for rendering)."""
        with self._lock:
            return self.data.qpos.copy()


__all__ = [
    'ArmState',
    'HOLD_ERROR_M',
    'HOLD_ERROR_RAD',
    'MAX_OMEGA_DT',
    'MAX_TIMESTEP',
    'MIN_ARMATURE',
    'MIN_ARMATURE_FRACTION',
    'MIN_BANDWIDTH',
    'MujocoArm',
    'OffscreenRenderer',
    'RealTimeRunner',
    'RenderUnavailable',
    'RunnerStats',
    'ServoGains',
    'SimCommandError',
    'build_spec',
    'check_timestep',
    'mujoco_urdf',
    'parse_positions',
    'servo_gains',
]
