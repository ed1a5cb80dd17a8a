"""
The teleop state machine: touch inputs → checked goals → smooth, safe joint setpoints.

Pure Python (no rclpy): the ``teleop`` node feeds it messages as plain values and publishes
what :meth:`TeleopCore.step` returns each control cycle. Every input that depends on time
takes ``now`` (monotonic seconds), so tests drive time themselves.

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

The status codes and their levels are listed in :mod:`robot_touch.core.teleop_status`.

Where things are
----------------
One class, :class:`TeleopCore`, in parts by concern (each a module; they share the core's
state and lock): :mod:`~robot_touch.core.teleop_goals` (pose, joint target, gripper, home),
:mod:`~robot_touch.core.teleop_jog` (Cartesian and joint jog), :mod:`~robot_touch.core.
teleop_latch` (joint_states, re-latching), :mod:`~robot_touch.core.teleop_safety` (input
gate, e-stop, enable, free drive). This module holds the state and the control cycle;
:mod:`~robot_touch.core.teleop_config` the settings, :mod:`~robot_touch.core.teleop_status`
the codes, modes, status and command. Their names are importable from here too.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from robot_touch.core.frames import base_fixed_frames
from robot_touch.core.motion import JointLimits, SetpointGenerator
from robot_touch.core.profile import ArmProfile
from robot_touch.core.teleop_config import (
    check_range,
    check_speed_override,
    Kinematics,
    RANGES,
    TeleopConfig,
)
from robot_touch.core.teleop_goals import GoalInputs, MIN_MOVE_SCALE, PREVIEW_SAMPLES
from robot_touch.core.teleop_inputs import (
    InputRejected,
    JointStatesSource,
    StampGuard,
    WorkspaceBox,
)
from robot_touch.core.teleop_jog import ESCAPE_PROBE, ESCAPE_SPEED, JogInputs
from robot_touch.core.teleop_latch import MeasuredJoints
from robot_touch.core.teleop_safety import SafetyStates
from robot_touch.core.teleop_status import (
    Code,
    Command,
    FREE_DRIVE_DETAILS,
    FreeDrivePhase,
    GOAL_MODES,
    JOG_MODES,
    LEVEL_ERROR,
    LEVEL_OK,
    LEVEL_STALE,
    LEVEL_WARN,
    LEVELS,
    Mode,
    REJECTIONS,
    SILENT_PHASES,
    Status,
    WAITING_DETAIL,
)
from robot_touch.core.teleop_workspace import WorkspaceGuard

#: the names importers take from this module (its own and its parts')
__all__ = [
    'check_range',
    'check_speed_override',
    'Code',
    'Command',
    'ESCAPE_PROBE',
    'ESCAPE_SPEED',
    'FREE_DRIVE_DETAILS',
    'FreeDrivePhase',
    'GOAL_MODES',
    'JOG_MODES',
    'Kinematics',
    'LEVEL_ERROR',
    'LEVEL_OK',
    'LEVEL_STALE',
    'LEVEL_WARN',
    'LEVELS',
    'MIN_MOVE_SCALE',
    'Mode',
    'PREVIEW_SAMPLES',
    'RANGES',
    'REJECTIONS',
    'SILENT_PHASES',
    'Status',
    'TeleopConfig',
    'TeleopCore',
    'WAITING_DETAIL',
]


class TeleopCore(GoalInputs, JogInputs, MeasuredJoints, SafetyStates):
    """
    See the module docstring.

    :param profile: the arm.
    :param config: settings; validated here.
    :param kinematics: an :class:`~robot_touch.core.kinematics.ArmKinematics` for the control
        cycle and the checks made under the lock (fk, jacobian, condition); built from the
        profile when None.
    :param ik_kinematics: the solver of target poses (IK runs outside the lock, on the
        thread that delivers target_pose, while the control thread uses ``kinematics``);
        when None, a solver of its own is built from the profile if ``kinematics`` was too,
        else ``kinematics`` is shared (a caller driving every input and the cycle from one
        thread, as the tests do).

    Threads: each thread has its own solver. Nothing documents that roboticstoolbox's C
    calls hold the GIL, so one solver is never used by two threads at once: IK runs on
    ``ik_kin``, everything else on ``kin`` with the lock held.
    """

    def __init__(
        self,
        profile: ArmProfile,
        config: TeleopConfig | None = None,
        kinematics: Kinematics | None = None,
        ik_kinematics: Kinematics | None = None,
    ) -> None:
        self.profile = profile
        self.config = config = config or TeleopConfig()
        config.validate()
        if kinematics is None:
            from robot_touch.core.kinematics import ArmKinematics

            kinematics = ArmKinematics(profile)
            if ik_kinematics is None:
                ik_kinematics = ArmKinematics(profile)
        self.kin = kinematics
        #: the target-pose solver (see Threads above)
        self.ik_kin = ik_kinematics if ik_kinematics is not None else kinematics
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
        self._mode = Mode.IDLE
        self._twist: np.ndarray | None = None
        self._twist_frame = 'base'  # base | tool
        self._joint_velocity: np.ndarray | None = None
        self._jog_at = -math.inf
        self._code = Code.OK
        self._detail = WAITING_DETAIL
        self._condition = float('nan')
        self._sing_scale = 1.0
        self._move_scale = 1.0  # tip speed limit of the current joint-space move
        self._last_output: np.ndarray | None = None
        self._last_gripper: float | None = None
        self._fd_phase = FreeDrivePhase.OFF
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
            elif self._fd_phase != FreeDrivePhase.OFF:
                code = Code.FREE_DRIVE
                detail = FREE_DRIVE_DETAILS[self._fd_phase].format(
                    joints=', '.join(self._fd_joints)
                ) + (f' ({self._fd_note})' if self._fd_note else '')
            elif not self._enabled:
                code, detail = (
                    Code.DISABLED,
                    'teleop disabled: enable with teleop/enable data=true',
                )
            elif self._mode == Mode.RELATCH:
                code = Code.RELATCHING
                detail = 'moving the command to the measured joints after a hold'
            else:
                code, detail = self._code, self._detail
            values = {
                'mode': self._mode.value,
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

    # ------------------------------------------------------------------ cycle

    def step(self, now: float, dt: float | None = None) -> Command | None:
        """
        Run one control cycle.

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
                if self._backend_ok or self._mode != Mode.IDLE:
                    self._backend_ok = False
                    self._brake()
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
            if self._mode in JOG_MODES and now - self._jog_at > self.config.jog_timeout:
                self._set_mode(Mode.IDLE)
                self.gen.brake()  # the arm; the gripper keeps its goal
                self._event(
                    Code.HALTED, f'no jog message for {self.config.jog_timeout:g} s: stopped'
                )
            if self._mode == Mode.JOG and self._twist is not None:
                self._cartesian_jog()
            elif self._mode == Mode.JOINT_JOG and self._joint_velocity is not None:
                self._joint_jog()
            else:
                self.gen.set_speed_scale(self._override * self._move_scale)
                self._sing_scale = 1.0
                self._clear_event(Code.NEAR_SINGULARITY)
            if self._mode == Mode.RELATCH:
                self._reaim_relatch()
            cmd = self._advance(dt)
            gripper_rests = self.gripper_gen is None or self.gripper_gen.mode == 'hold'
            at_rest = self.gen.mode == 'hold' and gripper_rests
            if self._mode == Mode.RELATCH and at_rest:
                self._set_mode(Mode.IDLE)
                self._event(Code.OK, 're-latched at the measured joints')
            if not self._enabled and at_rest:
                self._publishing = False  # braked to rest after disable: go quiet
            return cmd

    def _advance(self, dt: float) -> Command:
        """Step the setpoints by ``dt`` through the workspace guard and the safety net."""
        if self._mode == Mode.RELATCH:
            sp = self.gen.step(dt)  # back to where the arm is: see _latch
        else:
            sp, stopped = self.guard.step(self.gen, dt)
            if stopped:
                if self._mode != Mode.IDLE:
                    self._set_mode(Mode.IDLE)
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
            self._mode = Mode.IDLE
            self._event(Code.JOINT_LIMIT, 'output safety net: step or limit exceeded; stopped')
            q = safe
        self._last_output = q
        g, gv = None, 0.0
        if self.gripper_gen is not None:
            gsp = self.gripper_gen.step(dt)
            g, gv = float(gsp.position[0]), float(gsp.velocity[0])
            self._last_gripper = g
        return Command(q, sp.velocity, g, gv)
