"""
The teleop state machine: touch inputs → checked goals → smooth, safe joint setpoints.

Pure Python (no rclpy): the ``teleop`` node feeds it messages as plain values and publishes
what :meth:`TeleopCore.step` returns each control cycle. Every input method takes ``now``
(monotonic seconds), so tests drive time themselves.

Inputs and what they do
-----------------------
* ``on_joint_states``: the measured joints, from ONE publisher (the first heard; another one
  is a conflict: status ``joint_states_conflict``, nothing is latched to either). A joint
  published as NaN is not measured (a silent servo): like joint_states older than
  ``joint_states_timeout``, it brakes the arm to rest and holds it. Re-latching restarts
  from the measured joints with no jump on the command topic: at start-up and on enable
  (nothing was being published) the first command is the measured position; after a hold
  during which commands kept flowing (stale or NaN joint_states, e-stop release) the command
  ramps, jerk-limited, from where it stands to the measured position (status
  ``relatching``, inputs refused until it arrives), so a bridge that held the arm picks
  the stream up where the arm is.
* ``on_target_pose``: absolute tip pose (in the base link or any frame fixed to it, e.g.
  ``world``) → clamped into the workspace box → IK (seeded with the current setpoint) →
  joint goal, reached with jerk-limited, phase-synchronised motion whose tip speed stays
  under ``cartesian_speed`` (also for joint targets and home). Unreachable targets move to
  the nearest pose (status "unreachable"), unless that pose, or the way to it, leaves the
  workspace box (the floor is its bottom): then nothing moves. An empty PoseStamped (every
  field at its default) is refused.
* ``on_jog``: tip twist (base or tool frame) → weighted damped least squares each cycle.
* ``on_joint_jog`` / ``on_joint_target``: joint velocities / joint positions by name.
* ``on_gripper``: 0 = closed … 1 = open, onto the gripper's joint range.
* ``set_estop`` (a controlled stop: brake to rest within the limits, then hold there),
  ``set_enabled``, ``home``, ``set_speed_override``.
* free drive (the phases; :mod:`robot_touch.core.free_drive` runs the sequence with the
  hardware's torque): the arm brakes to rest, then NO command is published while joints
  are released and moved by hand; afterwards teleop re-latches to joint_states measured
  after the torque came back on (the first command is the measured position: no jump, no
  drift back to the setpoint from before).

Whatever moves the arm, the tip stays in the workspace box: each cycle the stop still
possible from the next setpoint must stay inside, or the cycle brakes instead
(:mod:`robot_touch.core.teleop_workspace`). Message stamps are ordered per sender and may
be at most ``max_stamp_lead`` ahead of this computer's clock.

Jog inputs (Cartesian and joint) are velocity commands: without a new message within
``jog_timeout`` (receive time, not stamp) the arm brakes to rest (status "halted").

Status codes (:class:`Code`): the latest thing that happened, overridden while a standing
condition holds (priority estop > joint_states_conflict > no_joint_states > free_drive >
disabled > relatching). Levels follow
diagnostic_msgs/DiagnosticStatus (0 OK, 1 WARN, 2 ERROR, 3 STALE).

=================  =====  ===========================================================
code               level  meaning
=================  =====  ===========================================================
ok                 0      following the last input
clamped            1      input limited: target outside the workspace box, jog faster
                          than the Cartesian/joint limit, gripper outside 0..1
unreachable        1      IK found no exact solution; moving to the nearest pose
near_singularity   1      Cartesian jog slowed (or stopped) near a singularity
joint_limit        1      a joint is at its limit in the jog direction, a joint target
                          was clamped into the limits, or the output safety net acted
halted             1      jog input went stale; braked to rest
disabled           1      teleop disabled (``teleop/enable``); no commands
estop              2      e-stop latched; braked to rest, holding where it stopped
joint_states_conflict  2  two publishers of joint_states; braked, holding, not latching
no_joint_states    3      no (or stale, or NaN) joint_states; braked, holding
relatching         1      ramping the command to the measured joints after a hold
free_drive         1      free drive: joints released (torque off) to be moved by hand;
                          no commands, inputs refused
invalid_pose       1      pose rejected: NaN/inf, zero quaternion, not a rotation, empty
unknown_frame      1      frame_id is not fixed to the base link (nor, for jog, the tip)
unknown_joint      1      a joint name is not in the profile
invalid_value      1      NaN/inf value, length mismatch, duplicate joint name
out_of_order       1      stamp older than the sender's previous one, or too far ahead
=================  =====  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
import math
import threading
from typing import Any, Protocol, Sequence

import numpy as np
from robot_touch.core.frames import base_fixed_frames
from robot_touch.core.motion import JointLimits, SetpointGenerator
from robot_touch.core.profile import ArmProfile
from robot_touch.core.teleop_inputs import (
    finite_vector,
    InputRejected,
    is_empty_pose,
    JointStatesSource,
    named_values,
    StampGuard,
    WorkspaceBox,
)
from robot_touch.core.teleop_singularity import (
    dls_joint_velocity,
    inverse_condition,
    scale_to_limits,
    singularity_speed_scale,
    tool_frame_jacobian,
)
from robot_touch.core.teleop_workspace import WorkspaceGuard
from robot_touch.errors import PoseError


class Code(str, Enum):
    """Teleop status codes (stable strings: the UI and tests match on them)."""

    OK = 'ok'
    CLAMPED = 'clamped'
    UNREACHABLE = 'unreachable'
    NEAR_SINGULARITY = 'near_singularity'
    JOINT_LIMIT = 'joint_limit'
    HALTED = 'halted'
    DISABLED = 'disabled'
    ESTOP = 'estop'
    JOINT_STATES_CONFLICT = 'joint_states_conflict'
    NO_JOINT_STATES = 'no_joint_states'
    RELATCHING = 'relatching'
    FREE_DRIVE = 'free_drive'
    INVALID_POSE = 'invalid_pose'
    UNKNOWN_FRAME = 'unknown_frame'
    UNKNOWN_JOINT = 'unknown_joint'
    INVALID_VALUE = 'invalid_value'
    OUT_OF_ORDER = 'out_of_order'


#: the status detail until the first joint_states arrive
WAITING_DETAIL = 'waiting for joint_states'

#: diagnostic_msgs/DiagnosticStatus levels.
LEVEL_OK, LEVEL_WARN, LEVEL_ERROR, LEVEL_STALE = 0, 1, 2, 3
LEVELS = {
    Code.OK: LEVEL_OK,
    Code.ESTOP: LEVEL_ERROR,
    Code.JOINT_STATES_CONFLICT: LEVEL_ERROR,
    Code.NO_JOINT_STATES: LEVEL_STALE,
}

#: Codes that reject an input (the loop keeps running; the node logs one throttled line).
REJECTIONS = frozenset(
    {
        Code.INVALID_POSE,
        Code.UNKNOWN_FRAME,
        Code.UNKNOWN_JOINT,
        Code.INVALID_VALUE,
        Code.OUT_OF_ORDER,
    }
)

#: free drive phases in which nothing is published (joints released or being switched)
SILENT_PHASES = ('releasing', 'on', 'engaging')
FREE_DRIVE_DETAILS = {
    'stopping': 'stopping before free drive',
    'releasing': 'free drive: releasing {joints}',
    'on': (
        'free drive: {joints} released (torque off), moved by hand; the arm sags under '
        'gravity: support it. teleop/free_drive data=false holds it where it is'
    ),
    'engaging': 'free drive ending: torque back on for {joints}, holding where the arm is',
}

#: Look-ahead step (rad, along the commanded joint direction) for "does this move lead away
#: from the singularity?".
ESCAPE_PROBE = 0.01
#: Samples along a previewed move when checking its tip speed.
PREVIEW_SAMPLES = 12
#: Lowest speed scale the tip speed limit applies to a joint-space move.
MIN_MOVE_SCALE = 0.01
#: Fraction of the joint velocity limit used to leave an exact singularity when the damped
#: solution cannot move at all.
ESCAPE_SPEED = 0.1


class Kinematics(Protocol):
    """What the core needs from :class:`robot_touch.core.kinematics.ArmKinematics`."""

    def fk(self, q: Sequence[float]) -> np.ndarray: ...

    def ik(
        self, target: Any, seed: Sequence[float] | None = None, *, max_step: float | None = None
    ) -> Any: ...

    def jacobian(self, q: Sequence[float]) -> np.ndarray: ...
    def condition(self, q: Sequence[float]) -> float: ...
    def reach(self) -> float: ...
    def reach_centre(self) -> np.ndarray: ...


@dataclass
class TeleopConfig:
    """
    Settings of the teleop core: the node's parameters, documented in config/teleop.yaml.

    Units: rate Hz; cartesian_speed m/s; angular_speed rad/s; workspace_min/max m (x y z,
    base frame; empty = from the arm's reach); jog_timeout, joint_states_timeout,
    max_stamp_lead s;
    max_joint_step rad; singularity_slow/stop condition numbers; the scales and the speed
    override are factors.
    """

    rate: float = 100.0
    speed_override: float = 1.0
    velocity_scale: float = 1.0
    acceleration_scale: float = 1.0
    jerk_scale: float = 1.0
    cartesian_speed: float = 0.25
    angular_speed: float = 1.5
    workspace_min: Sequence[float] = ()
    workspace_max: Sequence[float] = ()
    jog_timeout: float = 0.1
    joint_states_timeout: float = 0.5
    max_joint_step: float = 0.1
    singularity_slow: float = 100.0
    singularity_stop: float = 1000.0
    singularity_damping: float = 0.02
    include_gripper: bool = True
    start_enabled: bool = True
    max_stamp_lead: float = 0.5

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        positive = (
            'rate',
            'cartesian_speed',
            'angular_speed',
            'jog_timeout',
            'joint_states_timeout',
            'max_joint_step',
            'max_stamp_lead',
        )
        for name in positive:
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f'{name} must be a positive number, got {v!r}')
        for name in ('velocity_scale', 'acceleration_scale', 'jerk_scale'):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 < v <= 1):
                raise ValueError(f'{name} must be within (0, 1], got {v!r}')
        check_speed_override(self.speed_override)
        if not 1 <= self.singularity_slow < self.singularity_stop:
            raise ValueError(
                f'singularity_slow ({self.singularity_slow}) must be ≥ 1 and below '
                f'singularity_stop ({self.singularity_stop})'
            )
        if not (math.isfinite(self.singularity_damping) and self.singularity_damping >= 0):
            raise ValueError(f'singularity_damping must be ≥ 0, got {self.singularity_damping!r}')
        if bool(len(self.workspace_min)) != bool(len(self.workspace_max)):
            raise ValueError('give both workspace_min and workspace_max, or neither')

    @property
    def period(self) -> float:
        return 1.0 / self.rate


def check_speed_override(value: Any) -> float:
    """``value`` as a speed override, or ValueError: it must be within [0.05, 1.0]."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0.05 <= value <= 1.0)
    ):
        raise ValueError(f'speed_override must be within [0.05, 1.0], got {value!r}')
    return float(value)


@dataclass(frozen=True)
class Status:
    """The teleop status as the node publishes it (diagnostic_msgs/DiagnosticStatus)."""

    code: Code
    level: int
    detail: str
    values: dict[str, str] = field(default_factory=dict)

    def key(self) -> tuple:
        """Return what "changed" means for publish-on-change (not the live numbers)."""
        return (self.code, self.detail, self.values.get('mode'), self.values.get('enabled'))


@dataclass(frozen=True)
class Command:
    """One cycle's output: arm joint positions (profile order), the gripper, velocities."""

    position: np.ndarray
    velocity: np.ndarray
    gripper: float | None
    gripper_velocity: float = 0.0

    def velocities(self) -> list[float]:
        """Velocities with the gripper's appended, in :meth:`as_list` order."""
        out = [float(v) for v in self.velocity]
        if self.gripper is not None:
            out.append(float(self.gripper_velocity))
        return out

    def as_list(self) -> list[float]:
        """Positions with the gripper appended (forward_position_controller layout)."""
        out = [float(v) for v in self.position]
        if self.gripper is not None:
            out.append(float(self.gripper))
        return out


class TeleopCore:
    """
    See the module docstring.

    :param profile: the arm.
    :param config: settings; validated here.
    :param kinematics: an :class:`~robot_touch.core.kinematics.ArmKinematics` (built from the
        profile when None).
    """

    def __init__(
        self,
        profile: ArmProfile,
        config: TeleopConfig | None = None,
        kinematics: Kinematics | None = None,
    ) -> None:
        self.profile = profile
        self.config = config = config or TeleopConfig()
        config.validate()
        if kinematics is None:
            from robot_touch.core.kinematics import ArmKinematics

            kinematics = ArmKinematics(profile)
        self.kin = kinematics
        self.names = profile.joint_names
        self.limits = JointLimits.from_specs(
            profile.joints, config.velocity_scale, config.acceleration_scale, config.jerk_scale
        )
        self.gen = SetpointGenerator(self.limits, profile.home)
        self.gripper_spec = profile.gripper if config.include_gripper else None
        self.gripper_gen = (
            SetpointGenerator(
                JointLimits.from_specs(
                    [self.gripper_spec],
                    config.velocity_scale,
                    config.acceleration_scale,
                    config.jerk_scale,
                ),
                [self.gripper_spec.home],
            )
            if self.gripper_spec
            else None
        )
        if len(config.workspace_min):
            self.workspace = WorkspaceBox(tuple(config.workspace_min), tuple(config.workspace_max))
        else:
            self.workspace = WorkspaceBox.around_reach(
                kinematics.reach(), kinematics.reach_centre()
            )
        self.guard = WorkspaceGuard(kinematics, self.workspace)
        self.frames = base_fixed_frames(profile)
        self._lock = threading.RLock()
        self._stamps = StampGuard(config.max_stamp_lead)
        self._source = JointStatesSource(clear_after=2 * config.joint_states_timeout)
        self._override = config.speed_override
        self._enabled = config.start_enabled
        self._estop = False
        self._unmeasured: list[str] = []  # joints the latest joint_states gave as NaN
        self._conflict: list[Any] = []
        self._measured: np.ndarray | None = None
        self._measured_gripper: float | None = None
        self._measured_at: float | None = None
        self._backend_ok = False
        self._need_latch = True
        self._publishing = False  # False until latched; False again once disabled and at rest
        self._mode = 'idle'  # idle | pose | joint | jog | joint_jog | home
        self._twist: np.ndarray | None = None
        self._twist_frame = 'base'
        self._joint_velocity: np.ndarray | None = None
        self._jog_at = -math.inf
        self._code = Code.OK
        self._detail = WAITING_DETAIL
        self._condition = float('nan')
        self._sing_scale = 1.0
        self._move_scale = 1.0  # tip speed limit of the current joint-space move
        self._last_output: np.ndarray | None = None
        self._last_gripper: float | None = None
        self.last_ik: Any = None
        # free drive: off | stopping | releasing | on | engaging (FREE_DRIVE_DETAILS)
        self._fd_phase = 'off'
        self._fd_joints: list[str] = []
        self._fd_note = ''
        #: a latch waits for joint_states received after this time (torque just came back)
        self._latch_after = -math.inf

    # ------------------------------------------------------------------ status

    def status(self) -> Status:
        """Return the current status; the module docstring lists the codes."""
        with self._lock:
            if self._estop:
                code, detail = Code.ESTOP, 'e-stop latched: release with teleop/estop data=false'
            elif self._conflict:
                code, detail = (
                    Code.JOINT_STATES_CONFLICT,
                    (
                        f'{len(self._conflict)} publishers on joint_states: braked and holding, '
                        'not latching until only one is left'
                    ),
                )
            elif not self._backend_ok:
                if self._measured_at is None:
                    detail = 'no joint_states yet'
                elif self._unmeasured:
                    joints = ', '.join(self._unmeasured)
                    detail = f'{joints} not measured (NaN in joint_states): braked and holding'
                else:
                    detail = 'joint_states stale: braked and holding'
                code = Code.NO_JOINT_STATES
            elif self._fd_phase != 'off':
                code = Code.FREE_DRIVE
                detail = FREE_DRIVE_DETAILS[self._fd_phase].format(
                    joints=', '.join(self._fd_joints)
                ) + (f' ({self._fd_note})' if self._fd_note else '')
            elif not self._enabled:
                code, detail = (
                    Code.DISABLED,
                    'teleop disabled: enable with teleop/enable data=true',
                )
            elif self._mode == 'relatch':
                code = Code.RELATCHING
                detail = 'moving the command to the measured joints after a hold'
            else:
                code, detail = self._code, self._detail
            values = {
                'mode': self._mode,
                'enabled': str(self._enabled).lower(),
                'estop': str(self._estop).lower(),
                'speed_override': f'{self._override:.3g}',
                'singularity_scale': f'{self._sing_scale:.3g}',
                'condition': f'{self._condition:.4g}',
                'free_drive': ','.join(self._fd_joints),
            }
            return Status(code, LEVELS.get(code, LEVEL_WARN), detail, values)

    def _event(self, code: Code, detail: str = '') -> None:
        self._code, self._detail = code, detail

    def _clear_event(self, code: Code) -> None:
        """End a condition: back to ok if it is still the shown event."""
        if self._code == code:
            self._code, self._detail = Code.OK, ''

    def _reject(self, exc: InputRejected) -> Code:
        code = Code(exc.code)
        self._event(code, exc.detail)
        return code

    def _gate(self) -> InputRejected | None:
        """Why inputs that move the arm are refused right now, or None."""
        if self._estop:
            return InputRejected(Code.ESTOP.value, 'e-stop latched')
        if self._conflict:
            return InputRejected(
                Code.JOINT_STATES_CONFLICT.value, 'two publishers on joint_states'
            )
        if not self._backend_ok:
            return InputRejected(Code.NO_JOINT_STATES.value, 'no joint_states')
        if self._fd_phase != 'off':
            return InputRejected(
                Code.FREE_DRIVE.value,
                'free drive: leave it (teleop/free_drive data=false) to move the arm by touch',
            )
        if not self._enabled:
            return InputRejected(Code.DISABLED.value, 'teleop disabled')
        if self._mode == 'relatch':
            return InputRejected(
                Code.RELATCHING.value, 're-latching to the measured joints; try again in a moment'
            )
        return None

    # ------------------------------------------------------------------ settings

    @property
    def speed_override(self) -> float:
        return self._override

    def set_speed_override(self, value: float) -> None:
        """
        Set the live speed override (multiplies velocity limits and jog speeds).

        :raises ValueError: if ``value`` is out of [0.05, 1].
        """
        value = check_speed_override(value)
        with self._lock:
            self._override = value

    @property
    def enabled(self) -> bool:
        return self._enabled

    @property
    def estopped(self) -> bool:
        return self._estop

    # ------------------------------------------------------------------ measured state

    def on_joint_states(
        self, names: Sequence[str], positions: Sequence[float], now: float, source: Any = None
    ) -> Code | None:
        """
        Take a joint_states message from publisher ``source``.

        ``source`` is any hashable id (None if unknown). NaN marks a joint that is not measured.

        :returns: a rejection code, or None if used.
        """
        names = list(names)
        positions = list(positions)
        if len(names) != len(positions):
            return None  # a malformed message from the backend: wait for the next one
        index = {n: i for i, n in enumerate(names)}
        if any(n not in index for n in self.names):
            return None  # some other publisher (e.g. a gripper-only one); not ours to judge
        try:
            q = np.array([float(positions[index[n]]) for n in self.names])
        except (TypeError, ValueError):
            return Code.INVALID_VALUE
        if np.any(np.isinf(q)):
            return Code.INVALID_VALUE
        with self._lock:
            if not self._source.heard(source, now):
                self._conflict = self._source.conflict(now)
                return Code.JOINT_STATES_CONFLICT
            unmeasured = [n for n, v in zip(self.names, q) if math.isnan(v)]
            g = None
            if self.gripper_spec is not None and self.gripper_spec.name in index:
                g = float(positions[index[self.gripper_spec.name]])
                if not math.isfinite(g):
                    unmeasured.append(self.gripper_spec.name)
            if (
                self._measured_at is None
                or now - self._measured_at > self.config.joint_states_timeout
            ):
                self._need_latch = True
            self._measured_at = now
            self._unmeasured = unmeasured
            if unmeasured:
                self._need_latch = True  # the joints must be measured again before moving
                return None
            self._measured = q
            if g is not None:
                self._measured_gripper = g
        return None

    def set_joint_states_publishers(self, count: int) -> None:
        """How many publishers the ROS graph shows on joint_states (more than one: conflict)."""
        with self._lock:
            self._source.set_publisher_count(count)

    def _latch(self) -> None:
        """
        Restart from the measured joints (lock held).

        Nothing was being published (start-up, enable): the setpoint is the measured
        position, at rest. Commands kept flowing through the hold: the setpoint moves, from
        where it stands, to the measured position with the normal jerk-limited ramp, so the
        command topic never jumps and a listener that held the arm finds the stream back at
        the arm's position.
        """
        assert self._measured is not None
        g = (
            self._measured_gripper
            if self._measured_gripper is not None
            else (self.gripper_spec.home if self.gripper_spec else None)
        )
        self._need_latch = False
        if self._publishing and self._last_output is not None:
            self._set_mode('relatch')
            # the arm IS at the measured joints: the way back to them needs no workspace check
            self._move_to(self.limits.clamp(self._measured), check_workspace=False)
            if self.gripper_gen is not None:
                self.gripper_gen.move_to([self.gripper_spec.clamp(g)])
            return
        self.gen.latch(self._measured)
        if self.gripper_gen is not None:
            self.gripper_gen.latch([g])
        self._set_mode('idle')
        self._publishing = self._enabled
        self._last_output = self.gen.position
        self._last_gripper = (
            None if self.gripper_gen is None else float(self.gripper_gen.position[0])
        )

    def _reaim_relatch(self) -> None:
        """
        Keep the re-latch ramp aimed at the newest measurement (lock held).

        An arm still settling onto the goal its bridge re-latched to ends where the bridge holds
        it.
        """
        target = self.limits.clamp(self._measured)
        if not np.array_equal(target, self.gen.target):
            self.gen.move_to(target)
        if self.gripper_gen is not None and self._measured_gripper is not None:
            g = [self.gripper_spec.clamp(self._measured_gripper)]
            if not np.array_equal(g, self.gripper_gen.target):
                self.gripper_gen.move_to(g)

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

    # ------------------------------------------------------------------ goals

    def on_target_pose(
        self,
        frame_id: str,
        xyz: Sequence[float],
        quat_xyzw: Sequence[float],
        stamp: float = 0.0,
        now: float = 0.0,
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
            seed = (
                self.gen.target if self._mode in ('pose', 'joint', 'home') else self.gen.position
            )
        clamped_xyz, clamped = self.workspace.clamp(T[:3, 3])
        T[:3, 3] = clamped_xyz
        # IK outside the lock: the control loop must not wait for a solve.
        result = self.kin.ik(T, seed=seed)
        with self._lock:
            if self._gate():
                return self._reject(self._gate())
            self.last_ik = result
            problem = self._move_to(result.q)
            if problem:
                return self._refuse_move('target', problem)
            self._set_mode('pose')
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
        now: float = 0.0,
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
            goal = (
                self.gen.target if self._mode in ('pose', 'joint', 'home') else self.gen.position
            )
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
                self._set_mode('joint')
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

    def on_gripper(self, opening: float, now: float = 0.0) -> Code:
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

    def on_jog(
        self,
        frame_id: str,
        linear: Sequence[float],
        angular: Sequence[float],
        stamp: float = 0.0,
        now: float = 0.0,
        clock: float | None = None,
        sender: Any = None,
    ) -> Code:
        """
        Jog the tip at a velocity (m/s, rad/s) in the base frame or the tool frame.

        The base frame is base_link, "" or any frame fixed to it (rotated into the base frame);
        the tool frame is tip_link.
        """
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                if frame_id == self.profile.tip_link:
                    frame, R = 'tool', np.eye(3)
                else:
                    frame = 'base'
                    R = self._frame(frame_id, 'jog', extra=[self.profile.tip_link])[:3, :3]
                v = R @ finite_vector('jog linear', linear, 3)
                w = R @ finite_vector('jog angular', angular, 3)
                self._stamps.check('jog', stamp, clock, sender)
            except InputRejected as exc:
                return self._reject(exc)
            clamped = False
            nv, nw = float(np.linalg.norm(v)), float(np.linalg.norm(w))
            if nv > self.config.cartesian_speed:
                v *= self.config.cartesian_speed / nv
                clamped = True
            if nw > self.config.angular_speed:
                w *= self.config.angular_speed / nw
                clamped = True
            self._twist = np.concatenate((v, w))
            self._twist_frame = frame
            self._joint_velocity = None
            self._mode = 'jog'
            self._jog_at = now
            if clamped:
                self._event(Code.CLAMPED, 'jog faster than cartesian_speed/angular_speed; limited')
            elif self._code not in (Code.NEAR_SINGULARITY, Code.JOINT_LIMIT):
                self._event(Code.OK)
            return self._code

    def on_joint_jog(
        self,
        names: Sequence[str],
        velocities: Sequence[float],
        stamp: float = 0.0,
        now: float = 0.0,
        clock: float | None = None,
        sender: Any = None,
    ) -> Code:
        """Joint velocities (rad/s) by name; joints not named stay still."""
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                values = named_values('joint_jog', names, velocities, self.names)
                self._stamps.check('joint_jog', stamp, clock, sender)
            except InputRejected as exc:
                return self._reject(exc)
            qd = np.array([values.get(n, 0.0) for n in self.names])
            limited = np.clip(qd, -self.limits.velocity, self.limits.velocity)
            self._joint_velocity = limited
            self._twist = None
            self._mode = 'joint_jog'
            self._jog_at = now
            if np.any(limited != qd):
                self._event(
                    Code.CLAMPED, 'joint_jog faster than the joint velocity limits; limited'
                )
            elif self._code != Code.JOINT_LIMIT:
                self._event(Code.OK)
            return self._code

    def _set_mode(self, mode: str) -> None:
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

    # ------------------------------------------------------------------ services

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
            self._set_mode('home')
            self._event(Code.OK, 'homing')
            return True, 'moving to home'

    def set_estop(self, active: bool) -> tuple[bool, str]:
        """
        Latch (True) or release (False) the e-stop. Returns (success, message).

        Latching is a controlled stop: every joint decelerates to rest within its limits from
        the command's current motion (never a step back to a lagging measurement, never to
        anything another publisher claims), then holds there. Release re-latches to the
        measured joints (:meth:`_latch`).
        """
        with self._lock:
            if active:
                if not self._estop:
                    self._estop = True
                    self._set_mode('idle')
                    self.gen.brake()
                    if self.gripper_gen is not None:
                        self.gripper_gen.brake()
                return True, 'e-stop latched: braking to rest, then holding'
            if self._estop:
                self._estop = False
                self._need_latch = True
                self._event(Code.OK, 'e-stop released')
            return True, 'e-stop released'

    def set_enabled(self, enabled: bool) -> tuple[bool, str]:
        """
        Enable (re-latch to the measured joints) or disable (brake, then stop commanding).

        Enabling is refused while two publishers send joint_states (nothing to latch to).
        """
        with self._lock:
            if enabled and self._conflict:
                return False, (
                    'not enabled: two publishers on joint_states; stop the other one first'
                )
            if enabled and not self._enabled:
                self._enabled = True
                self._need_latch = True
                self._event(Code.OK, 'enabled')
            elif not enabled and self._enabled:
                self._enabled = False
                self._set_mode('idle')
                self.gen.brake()
                if self.gripper_gen is not None:
                    self.gripper_gen.brake()
            return True, 'enabled' if enabled else 'disabled'

    # ------------------------------------------------------------------ free drive

    def free_drive_state(self) -> tuple[str, list[str]]:
        """(phase, released joints): off | stopping | releasing | on | engaging."""
        with self._lock:
            return self._fd_phase, list(self._fd_joints)

    def free_drive_refusal(self) -> str | None:
        """Why free drive cannot start now, or None (lock taken)."""
        with self._lock:
            if self._estop:
                return 'e-stop latched: release it first'
            if self._conflict:
                return "two publishers on joint_states: the arm's position is not known"
            if not self._backend_ok:
                return "no joint_states: the arm's position is not known"
            if self._fd_phase != 'off':
                return f'free drive is {"on" if self._fd_phase == "on" else "changing"} already'
            return None

    def free_drive_stop(self, joints: Sequence[str]) -> str | None:
        """
        Start free drive of ``joints``.

        Brake to rest (inputs refused from now). Returns why not, or None.
        """
        with self._lock:
            refusal = self.free_drive_refusal()
            if refusal:
                return refusal
            self._fd_phase, self._fd_joints, self._fd_note = 'stopping', list(joints), ''
            self._set_mode('idle')
            self.gen.brake()
            if self.gripper_gen is not None:
                self.gripper_gen.brake()
            return None

    def free_drive_at_rest(self) -> bool:
        """Return whether the command has come to rest (or nothing is being published)."""
        with self._lock:
            gripper_rests = self.gripper_gen is None or self.gripper_gen.mode == 'hold'
            return not self._publishing or (self.gen.mode == 'hold' and gripper_rests)

    def free_drive_phase(
        self, phase: str, joints: Sequence[str] | None = None, note: str = ''
    ) -> None:
        """
        Enter ``phase`` (releasing, on, engaging), ``joints`` released.

        From releasing on, no command is published, and the old setpoint is forgotten for good.
        """
        with self._lock:
            self._fd_phase, self._fd_note = phase, note
            if joints is not None:
                self._fd_joints = list(joints)
            if phase in SILENT_PHASES:
                self._publishing = False
                self._last_output = None
                self._last_gripper = None

    def free_drive_end(self, now: float, note: str = '') -> None:
        """
        Free drive is over (every joint holds torque again, measured after ``now``).

        The next command is the measured position, once joint_states newer than ``now`` arrive.
        """
        with self._lock:
            was_silent = self._fd_phase in SILENT_PHASES
            self._fd_phase, self._fd_joints, self._fd_note = 'off', [], ''
            self._set_mode('idle')
            self._need_latch = True
            if was_silent:
                self._latch_after = now
            self._event(Code.OK, note)

    # ------------------------------------------------------------------ cycle

    def step(self, now: float, dt: float | None = None) -> Command | None:
        """
        One control cycle.

        :param now: monotonic time (s).
        :param dt: time since the previous cycle (s); limited to one period (a late cycle never
            advances further than one period, so the arm slows rather than jumps).

        :returns: The command to publish, or None (no joint_states yet, or disabled and at rest).
        """
        period = self.config.period
        dt = period if dt is None else min(max(dt, 1e-6), period)
        with self._lock:
            self._conflict = self._source.conflict(now)
            stale = (
                self._measured_at is None
                or now - self._measured_at > self.config.joint_states_timeout
                or bool(self._unmeasured)
                or bool(self._conflict)
                or self._measured is None
            )
            if stale:
                if self._backend_ok or self._mode != 'idle':
                    self._backend_ok = False
                    self._set_mode('idle')
                    self.gen.brake()
                    if self.gripper_gen is not None:
                        self.gripper_gen.brake()
                self._need_latch = True
                if self._last_output is None:
                    return None
                return self._advance(dt) if self._publishing else None
            if not self._backend_ok and self._detail == WAITING_DETAIL:
                self._detail = ''  # they arrive now: an idle teleop must not keep saying it waits
            self._backend_ok = True
            if self._fd_phase in SILENT_PHASES:
                return None  # joints released: the arm is moved by hand, not commanded
            if self._estop:
                return self._advance(dt) if self._last_output is not None else None
            if self._need_latch:
                if self._measured_at <= self._latch_after:
                    return None  # torque just came back on: latch to a newer measurement
                self._latch()
            if not self._enabled and not self._publishing:
                return None
            if self._mode in ('jog', 'joint_jog') and now - self._jog_at > self.config.jog_timeout:
                self._set_mode('idle')
                self.gen.brake()
                self._event(
                    Code.HALTED, f'no jog message for {self.config.jog_timeout:g} s: stopped'
                )
            if self._mode == 'jog' and self._twist is not None:
                self._cartesian_jog()
            elif self._mode == 'joint_jog' and self._joint_velocity is not None:
                self._joint_jog()
            else:
                self.gen.set_speed_scale(self._override * self._move_scale)
                self._sing_scale = 1.0
                self._clear_event(Code.NEAR_SINGULARITY)
            if self._mode == 'relatch':
                self._reaim_relatch()
            cmd = self._advance(dt)
            gripper_rests = self.gripper_gen is None or self.gripper_gen.mode == 'hold'
            at_rest = self.gen.mode == 'hold' and gripper_rests
            if self._mode == 'relatch' and at_rest:
                self._set_mode('idle')
                self._event(Code.OK, 're-latched at the measured joints')
            if not self._enabled and at_rest:
                self._publishing = False  # braked to rest after disable: go quiet
            return cmd

    def _advance(self, dt: float) -> Command:
        if self._mode == 'relatch':
            sp = self.gen.step(dt)  # back to where the arm is: see _latch
        else:
            sp, stopped = self.guard.step(self.gen, dt)
            if stopped:
                if self._mode != 'idle':
                    self._set_mode('idle')
                self._event(
                    Code.CLAMPED,
                    'stopped at the edge of the workspace box (the floor is its bottom)',
                )
        q = sp.position
        # Last safety net: never leave the limits, never step more than max_joint_step.
        prev = self._last_output if self._last_output is not None else q
        step = np.clip(q - prev, -self.config.max_joint_step, self.config.max_joint_step)
        safe = self.limits.clamp(prev + step)
        if np.any(np.abs(safe - q) > 1e-12):
            self.gen.latch(safe)
            self._mode = 'idle'
            self._event(Code.JOINT_LIMIT, 'output safety net: step or limit exceeded; stopped')
            q = safe
        self._last_output = q
        g, gv = None, 0.0
        if self.gripper_gen is not None:
            gsp = self.gripper_gen.step(dt)
            g, gv = float(gsp.position[0]), float(gsp.velocity[0])
            self._last_gripper = g
        return Command(q, sp.velocity, g, gv)

    def _joint_jog(self) -> None:
        qd = self._joint_velocity * self._override
        self.gen.set_speed_scale(self._override)
        self.gen.jog(qd)
        self._limit_event(qd)

    def _limit_event(self, qd: np.ndarray) -> None:
        q = self.gen.position
        at_limit = ((qd > 0) & (q >= self.limits.upper - 1e-6)) | (
            (qd < 0) & (q <= self.limits.lower + 1e-6)
        )
        if np.any(at_limit):
            names = [n for n, a in zip(self.names, at_limit) if a]
            self._event(Code.JOINT_LIMIT, f'at the joint limit: {", ".join(names)}')
        else:
            self._clear_event(Code.JOINT_LIMIT)

    def _cartesian_jog(self) -> None:
        """Twist → joint velocities at the current setpoint (damped, singularity-aware)."""
        q = self.gen.position
        T = self.kin.fk(q)
        R = T[:3, :3]
        J = self.kin.jacobian(q)
        twist = self._twist.copy()
        if self._twist_frame == 'base':
            # Express both in the tool frame, where the task weights are defined.
            twist = np.concatenate((R.T @ twist[:3], R.T @ twist[3:]))
        Jt = tool_frame_jacobian(J, R)
        weights = self.profile.task_weights
        qd = dls_joint_velocity(Jt, twist, weights, self.config.singularity_damping)
        cond = self.kin.condition(q)
        self._condition = cond
        scale = singularity_speed_scale(
            cond, self.config.singularity_slow, self.config.singularity_stop
        )
        w = np.asarray(weights)
        wanted = float(np.linalg.norm(w * twist))
        # Share of the requested (weighted) twist the damped solution really produces.
        achieved = float(np.linalg.norm(w * (Jt @ qd))) / wanted if wanted > 0 else 1.0
        hindered = False
        if scale < 1.0 and wanted > 0:
            # Moving away from the singularity needs no damping (damping is what would keep
            # the arm there): take the plain least-squares motion if it lowers the condition
            # number; the joint velocity limits bound it.
            qd_ls = dls_joint_velocity(Jt, twist, weights, 0.0)
            norm = float(np.linalg.norm(qd_ls))
            escaping = False
            if norm > 1e-12:
                ahead = self.limits.clamp(q + qd_ls / norm * ESCAPE_PROBE)
                escaping = inverse_condition(self.kin.condition(ahead)) >= inverse_condition(cond)
                achieved = float(np.linalg.norm(w * (Jt @ qd_ls))) / wanted
            if escaping and achieved >= 0.5:
                qd, scale = qd_ls, 1.0
            elif cond >= self.config.singularity_stop:
                # Stuck at (or next to) the singularity: nudge the single joint that best
                # raises dexterity without moving the tip against the request.
                qd = self._escape_velocity(q, J, R, twist)
                scale = 1.0 if np.any(qd) else 0.0
            hindered = True
        elif cond > self.config.singularity_slow and achieved < 0.5:
            hindered = True
        self._sing_scale = scale
        if hindered:
            # A fixed sentence: the live numbers are in the status values (condition,
            # singularity_scale), so the status does not "change" every cycle.
            self._event(
                Code.NEAR_SINGULARITY,
                'near a singularity: jog slowed; move away from it to speed up',
            )
        else:
            self._clear_event(Code.NEAR_SINGULARITY)
        qd, _ = scale_to_limits(qd * scale * self._override, self.limits.velocity * self._override)
        self.gen.set_speed_scale(self._override)
        self.gen.jog(qd)
        if self._code != Code.NEAR_SINGULARITY:
            self._limit_event(qd)

    def _escape_velocity(
        self, q: np.ndarray, J: np.ndarray, R: np.ndarray, twist_tool: np.ndarray
    ) -> np.ndarray:
        base = inverse_condition(self.kin.condition(q))
        v_base = R @ twist_tool[:3]
        best, best_gain = None, 0.0
        for i in range(len(q)):
            for sign in (1.0, -1.0):
                probe = q.copy()
                probe[i] += sign * ESCAPE_PROBE
                if not self.limits.lower[i] <= probe[i] <= self.limits.upper[i]:
                    continue
                gain = inverse_condition(self.kin.condition(probe)) - base
                # Tip motion of this nudge, to second order (FK difference), must not oppose
                # the request.
                dp = self.kin.fk(probe)[:3, 3] - self.kin.fk(q)[:3, 3]
                if gain > best_gain and float(dp @ v_base) >= 0.0:
                    best, best_gain = (i, sign), gain
        qd = np.zeros(len(q))
        if best is not None:
            qd[best[0]] = best[1] * ESCAPE_SPEED * self.limits.velocity[best[0]]
        return qd
