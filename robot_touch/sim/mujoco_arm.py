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

from dataclasses import dataclass
import math
import os
from pathlib import Path
import sys
import threading
import time
from typing import Any, Callable, Sequence
import warnings
import xml.etree.ElementTree as ET

import numpy as np
from robot_touch.core.periodic import PeriodicLoop
from robot_touch.core.profile import ArmProfile, check_for_simulation, JointSpec
from robot_touch.core.trajectory import parse_trajectory, TrajectoryError, TrajectorySampler
from robot_touch.errors import RobotTouchError

# MuJoCo picks its OpenGL backend once, when it is first imported. Without a display the
# default (GLFW) cannot open a context, while EGL renders off-screen on Mesa's software
# driver, so choose EGL on headless machines unless the user decided otherwise.
if (
    'MUJOCO_GL' not in os.environ
    and not os.environ.get('DISPLAY')
    and not os.environ.get('WAYLAND_DISPLAY')
):
    os.environ['MUJOCO_GL'] = 'egl'


def _import_mujoco() -> tuple[Any, str]:
    """
    ``import mujoco``, surviving a broken OpenGL backend; returns (module, why no rendering).

    A MUJOCO_GL whose library is missing (``osmesa`` without libOSMesa) makes the import
    itself fail. The physics needs no OpenGL, so import again with rendering disabled and
    keep the reason for the message a render request gets.
    """
    try:
        import mujoco as module

        return module, ''
    except (
        AttributeError,
        ImportError,
        OSError,
        RuntimeError,
    ) as exc:  # RuntimeError: unknown MUJOCO_GL
        reason = (
            f'MUJOCO_GL={os.environ.get("MUJOCO_GL", "")} failed to load '
            f'({type(exc).__name__}: {exc})'
        )
        for name in [
            m for m in sys.modules if m == 'mujoco' or m.startswith(('mujoco.', 'OpenGL'))
        ]:
            del sys.modules[name]
        os.environ['MUJOCO_GL'] = 'disable'
        import mujoco as module

        return module, reason


mujoco, _GL_IMPORT_PROBLEM = _import_mujoco()

#: Largest time step accepted (s): the controllers expect at least 500 Hz of physics.
MAX_TIMESTEP = 0.002

#: Static error each servo may show while holding the arm against gravity (rad; m if prismatic).
HOLD_ERROR_RAD = 0.004
HOLD_ERROR_M = 0.0005

#: Slowest servo response wanted (natural frequency of the position loop, rad/s).
MIN_BANDWIDTH = 40.0

#: Stiffest response the integrator resolves accurately: natural frequency × timestep.
MAX_OMEGA_DT = 0.25

#: Smallest reflected rotor inertia of a geared servo (kg m^2, or kg for prismatic), and the
#: least it adds relative to the links it drives: a hobby servo's gearbox (1:300 and more)
#: makes its rotor a noticeable part of what the joint has to accelerate.
MIN_ARMATURE = 1e-4
MIN_ARMATURE_FRACTION = 0.1


class SimCommandError(RobotTouchError, ValueError):
    """A command the simulation refused (wrong length, NaN, unknown joint); state unchanged."""


class RenderUnavailable(RobotTouchError):
    """No OpenGL backend could render off-screen here."""


@dataclass(frozen=True)
class ServoGains:
    """
    Position-loop settings of one joint's actuator.

    :ivar kp: stiffness, N m/rad (N/m for prismatic joints).
    :ivar kv: damping, N m s/rad (N s/m).
    :ivar armature: reflected rotor inertia added to the joint, kg m^2 (kg).
    :ivar force_limit: largest actuator force, N m (N); ``inf`` = unlimited.
    """

    kp: float
    kv: float
    armature: float
    force_limit: float


@dataclass(frozen=True)
class ArmState:
    """
    A snapshot of the simulated joints, in the profile's joint order.

    ``positions`` rad (m), ``velocities`` rad/s (m/s), ``efforts`` actuator force N m (N),
    ``time`` simulated seconds since the start.
    """

    time: float
    names: tuple[str, ...]
    positions: np.ndarray
    velocities: np.ndarray
    efforts: np.ndarray


# ---------------------------------------------------------------------------- model


def mujoco_urdf(profile: ArmProfile) -> str:
    """
    Return the profile's URDF, ready for MuJoCo's URDF compiler.

    The ``<ros2_control>`` and ``<gazebo>`` blocks are dropped (MuJoCo does not know them),
    and a ``<mujoco><compiler/>`` element keeps every link as its own body (``fusestatic``
    would merge the tool frame away) and keeps the visual geometry for rendering.
    """
    # ElementTree rather than text edits: xacro's banner comment is not valid for MuJoCo's
    # XML parser, and ElementTree drops comments.
    root = ET.fromstring(profile.urdf_xml())
    for tag in ('ros2_control', 'gazebo'):
        for element in root.findall(tag):
            root.remove(element)
    extension = ET.Element('mujoco')
    ET.SubElement(
        extension, 'compiler', discardvisual='false', fusestatic='false', strippath='false'
    )
    root.insert(0, extension)
    return ET.tostring(root, encoding='unicode')


def build_spec(profile: ArmProfile, timestep: float = MAX_TIMESTEP) -> mujoco.MjSpec:
    """
    Return an MjSpec of the arm on a floor, with gravity and a light, but no actuators yet.

    Self-collisions are off: the box primitives of neighbouring links overlap near the
    joints, and the teleop node never relies on the arm stopping on itself. The links do
    collide with the floor.
    """
    check_timestep(timestep)
    # A moving link without <inertial>: one clear error, not MuJoCo's.
    check_for_simulation(profile)
    try:
        spec = mujoco.MjSpec.from_string(mujoco_urdf(profile))
    except ValueError as exc:
        raise RobotTouchError(f'{profile.urdf_path}: MuJoCo cannot read the URDF: {exc}') from None
    spec.option.timestep = timestep
    spec.option.gravity = [0.0, 0.0, -9.81]
    # Implicit damping keeps the stiff, strongly damped servo loops stable at 2 ms.
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for geom in spec.geoms:
        if geom.contype or geom.conaffinity:  # a collision geom (the visual copies have 0/0)
            geom.contype, geom.conaffinity = 1, 0
            geom.group = 3  # hidden by default: the visual copy is drawn instead
    spec.worldbody.add_geom(
        name='floor',
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[1.0, 1.0, 0.05],
        rgba=[0.55, 0.6, 0.65, 1.0],
        contype=0,
        conaffinity=1,
    )
    spec.worldbody.add_light(pos=[0.4, -0.4, 1.2], dir=[-0.3, 0.3, -1.0], diffuse=[0.8, 0.8, 0.8])
    return spec


def check_timestep(timestep: float) -> None:
    """Raise ValueError unless 0 < ``timestep`` ≤ :data:`MAX_TIMESTEP` (s)."""
    if not (
        isinstance(timestep, (int, float))
        and math.isfinite(timestep)
        and 0.0 < timestep <= MAX_TIMESTEP
    ):
        raise ValueError(
            f'timestep must be in (0, {MAX_TIMESTEP}] s (at least 500 Hz of physics), '
            f'got {timestep!r}'
        )


def servo_gains(
    model: mujoco.MjModel,
    joint_ids: Sequence[int],
    specs: Sequence[JointSpec],
    force_limits: Sequence[float],
    kp: Sequence[float] | None = None,
    kv: Sequence[float] | None = None,
) -> list[ServoGains]:
    """
    Gains for each joint, derived from the links it moves (``kp``/``kv``: per-joint overrides).

    For every joint the largest gravity load (plus joint friction) and the largest inertia
    it sees over a deterministic sample of poses set the stiffness: enough to hold the load within
    :data:`HOLD_ERROR_RAD`, and at least a :data:`MIN_BANDWIDTH` response. Armature (the
    servo's geared rotor) is then added where the links alone are too light for that
    stiffness to be integrated accurately at the model's timestep, and the damping is
    chosen critical.
    """
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)  # the same gains on every run
    poses = [np.array([s.home for s in specs]), np.zeros(len(specs))]
    poses += [rng.uniform([s.lower for s in specs], [s.upper for s in specs]) for _ in range(64)]
    dofs = [int(model.jnt_dofadr[j]) for j in joint_ids]
    qadr = [int(model.jnt_qposadr[j]) for j in joint_ids]
    inertia = np.zeros(len(dofs))
    load = np.zeros(len(dofs))
    full = np.zeros((model.nv, model.nv))
    for pose in poses:
        data.qpos[qadr] = np.clip(pose, [s.lower for s in specs], [s.upper for s in specs])
        data.qvel[:] = 0.0
        mujoco.mj_forward(model, data)
        mujoco.mj_fullM(model, data, full)
        inertia = np.maximum(inertia, full[dofs, dofs] - model.dof_armature[dofs])
        load = np.maximum(load, np.abs(data.qfrc_bias[dofs]))  # gravity alone: qvel is 0
    # Dry friction in the joint resists the servo like a load does.
    load = load + model.dof_frictionloss[dofs]
    omega_max = MAX_OMEGA_DT / model.opt.timestep
    gains = []
    for i, (spec, link_inertia, joint_load, limit) in enumerate(
        zip(specs, inertia, load, force_limits)
    ):
        hold = HOLD_ERROR_M if spec.prismatic else HOLD_ERROR_RAD
        armature = max(MIN_ARMATURE, float(link_inertia) * MIN_ARMATURE_FRACTION)
        automatic = max(joint_load / hold, (link_inertia + armature) * MIN_BANDWIDTH**2)
        stiffness = kp[i] if kp and kp[i] > 0 else automatic
        armature = max(armature, stiffness / omega_max**2 - link_inertia)
        damping = (
            kv[i] if kv and kv[i] > 0 else 2.0 * math.sqrt(stiffness * (link_inertia + armature))
        )
        gains.append(
            ServoGains(
                kp=float(stiffness),
                kv=float(damping),
                armature=float(armature),
                force_limit=float(limit),
            )
        )
    return gains


def _expand(values: Sequence[float] | None, count: int, what: str) -> list[float] | None:
    """
    Per-joint overrides: None/empty → None, one value → repeated, ``count`` values → as given.

    A 0 entry means "automatic" for that joint.
    """
    if values is None or len(values) == 0:
        return None
    values = [float(v) for v in values]
    if len(values) == 1:
        values = values * count
    if len(values) != count or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(
            f'{what} must be one number ≥ 0 or {count} (one per joint; 0 = automatic), '
            f'got {values}'
        )
    return values if any(values) else None


def parse_positions(text: str, profile: ArmProfile) -> list[float] | None:
    """
    Return a pose given as text: ``home`` → None (the profile's home), ``zero``, or numbers.

    Numbers in joint order, separated by commas or spaces, arm joints then the gripper (rad, m).

    :raises ValueError: naming the joints expected.
    """
    words = text.strip().lower()
    if words in ('', 'home'):
        return None
    count = len(profile.all_joints)
    if words == 'zero':
        return [0.0] * count
    try:
        values = [float(v) for v in words.replace(',', ' ').split()]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        names = ', '.join(j.name for j in profile.all_joints)
        raise ValueError(f'a pose must be home, zero or {count} numbers ({names}), got {text!r}')
    return values


# ---------------------------------------------------------------------------- the arm


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
        kp_override = _expand(kp, n, 'kp')
        kv_override = _expand(kv, n, 'kv')

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


# ---------------------------------------------------------------------------- real time


@dataclass(frozen=True)
class RunnerStats:
    """
    How well the simulation keeps up with the wall clock.

    ``real_time_factor`` is simulated seconds per wall second since the start,
    ``recent_real_time_factor`` the same over the last second or so, ``dropped`` the
    simulated seconds skipped because the machine fell too far behind.
    """

    steps: int
    sim_time: float
    wall_time: float
    real_time_factor: float
    recent_real_time_factor: float
    dropped: float


class RealTimeRunner:
    """
    Steps a :class:`MujocoArm` in a background thread so simulated time follows the wall clock.

    The thread (a :class:`~robot_touch.core.periodic.PeriodicLoop`) wakes every
    ``wake_period`` seconds and runs as many steps as are due, so the physics rate does not
    depend on how precisely the OS wakes it up. If it falls more than ``max_lag`` behind (a
    stalled machine), the backlog is dropped rather than run in a burst that would make the
    arm jump.
    """

    def __init__(
        self,
        arm: MujocoArm,
        wake_period: float = 0.004,
        max_lag: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arm = arm
        self.wake_period = wake_period
        self.max_lag = max_lag
        self._clock = clock
        self._loop: PeriodicLoop | None = None
        self._scheduled = 0  # steps owed to the wall clock so far, run or dropped
        self._stats_lock = threading.Lock()
        self._steps = 0
        self._dropped_steps = 0
        self._t0 = 0.0
        self._sim0 = 0.0
        self._window = (0.0, 0.0)  # (wall, sim) at the start of the recent window
        self._recent = 1.0

    def start(self) -> None:
        """Start stepping (once)."""
        if self._loop is not None:
            return
        self._t0 = self._clock()
        self._sim0 = self.arm.time
        self._window = (self._t0, self._sim0)
        self._loop = PeriodicLoop(
            self.wake_period, self._tick, name='mujoco-stepper', clock=self._clock
        ).start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop stepping and wait for the thread."""
        if self._loop is not None:
            self._loop.stop(timeout)

    def _tick(self, now: float, elapsed: float) -> None:
        """Run the steps due at ``now``, at most ``max_lag`` worth (the rest is dropped)."""
        dt = self.arm.timestep
        max_steps = max(1, int(self.max_lag / dt))
        due = int((now - self._t0) / dt) - self._scheduled
        if due > 0:
            run = min(due, max_steps)
            self._scheduled += due
            with self._stats_lock:  # held while stepping, so stats() sees steps and time agree
                self.arm.step(run)
                self._steps += run
                self._dropped_steps += due - run
                wall0, sim0 = self._window
                if now - wall0 >= 1.0:
                    sim = self.arm.time
                    self._recent = (sim - sim0) / (now - wall0)
                    self._window = (now, sim)

    @property
    def running(self) -> bool:
        """Return True while the stepping thread is alive."""
        return self._loop is not None and self._loop.running

    def stats(self) -> RunnerStats:
        """Step run and real-time factors so far."""
        wall = max(self._clock() - self._t0, 1e-9)
        with self._stats_lock:
            sim = self.arm.time - self._sim0
            return RunnerStats(
                steps=self._steps,
                sim_time=sim,
                wall_time=wall,
                real_time_factor=sim / wall,
                recent_real_time_factor=self._recent,
                dropped=self._dropped_steps * self.arm.timestep,
            )


# ---------------------------------------------------------------------------- rendering


class OffscreenRenderer:
    """
    Draws the arm to an RGB image without a window (EGL, OSMesa or GLFW under Xvfb).

    Create and use it in one thread: the OpenGL context belongs to the thread that made it.

    :raises RenderUnavailable: no OpenGL backend works here; the message says what to try.
    """

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        hint = 'try MUJOCO_GL=egl or MUJOCO_GL=osmesa, or run under Xvfb with MUJOCO_GL=glfw'
        if _GL_IMPORT_PROBLEM:
            raise RenderUnavailable(
                f'off-screen rendering unavailable: {_GL_IMPORT_PROBLEM}; {hint}'
            )
        backend = os.environ.get('MUJOCO_GL') or 'glfw'
        try:
            with (
                warnings.catch_warnings()
            ):  # GLFW warns before failing; the error below says it all
                warnings.simplefilter('ignore')
                self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as exc:  # GL failures come as many types; the user needs one line
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RenderUnavailable(
                f'off-screen rendering unavailable (MUJOCO_GL={backend}): {reason}; {hint}'
            ) from None
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        # Frame the arm, not the whole floor (which dominates model.stat): its bodies in
        # the reference pose, seen from a distance that fits it stretched out.
        mujoco.mj_forward(model, self.data)
        bodies = self.data.xpos[1:]
        reach = float(np.max(np.linalg.norm(bodies - bodies[0], axis=1))) if len(bodies) else 0.3
        self.camera.lookat[:] = (
            bodies[0] + np.array([0.0, 0.0, 0.5 * reach]) if len(bodies) else model.stat.center
        )
        self.camera.distance = max(0.3, 1.8 * reach)
        self.camera.azimuth = 135.0
        self.camera.elevation = -25.0

    def render(self, qpos: np.ndarray) -> np.ndarray:
        """Return an RGB image (height × width × 3, uint8) of the arm in pose ``qpos``."""
        self.data.qpos[:] = qpos
        mujoco.mj_forward(self.model, self.data)
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def save_png(self, qpos: np.ndarray, path: str | Path) -> Path:
        """Render ``qpos`` and write it to ``path`` as a PNG; returns the path."""
        from PIL import Image

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a viewer polling the file never reads half an image.
        tmp = path.with_name(f'.{path.name}.tmp')
        Image.fromarray(self.render(qpos)).save(tmp, format='PNG')
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        """Free the OpenGL context."""
        self._renderer.close()
