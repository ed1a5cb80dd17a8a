"""The teleop state machine: touch inputs → checked goals → smooth, safe joint setpoints.

Pure Python (no rclpy): the ``teleop`` node feeds it messages as plain values and publishes
what :meth:`TeleopCore.step` returns each control cycle. Every input method takes ``now``
(monotonic seconds), so tests drive time themselves.

Inputs and what they do
-----------------------
* ``on_joint_states``: the measured joints. The first message after start-up, after a gap
  longer than ``joint_states_timeout``, after enable and after e-stop release re-latches the
  setpoint to it (goal cleared, velocity zero): the arm never jumps to a stale goal.
* ``on_target_pose``: absolute tip pose → clamped into the workspace box → IK (seeded with the
  current setpoint) → joint goal, reached with jerk-limited, phase-synchronised motion whose
  tip speed stays under ``cartesian_speed`` (also for joint targets and home).
  Unreachable targets move to the nearest pose (status "unreachable").
* ``on_jog``: tip twist (base or tool frame) → weighted damped least squares each cycle.
* ``on_joint_jog`` / ``on_joint_target``: joint velocities / joint positions by name.
* ``on_gripper``: 0 = closed … 1 = open, onto the gripper's joint range.
* ``set_estop``, ``set_enabled``, ``home``, ``set_speed_override``.

Jog inputs (Cartesian and joint) are velocity commands: without a new message within
``jog_timeout`` (receive time, not stamp) the arm brakes to rest (status "halted").

Status codes (:class:`Code`): the latest thing that happened, overridden while a standing
condition holds (priority estop > no_joint_states > disabled). Levels follow
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
estop              2      e-stop latched; holding the position measured at the e-stop
no_joint_states    3      no (or stale) joint_states; braked, holding
invalid_pose       1      pose rejected: NaN/inf, zero quaternion, not a rotation
unknown_frame      1      frame_id is neither the base link nor (jog) the tip link
unknown_joint      1      a joint name is not in the profile
invalid_value      1      NaN/inf value, length mismatch, duplicate joint name
out_of_order       1      message stamp older than the previous one on that input
=================  =====  ===========================================================
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol, Sequence

import numpy as np

from robot_touch.core.motion import JointLimits, SetpointGenerator
from robot_touch.core.profile import ArmProfile
from robot_touch.core.teleop_inputs import InputRejected, StampGuard, WorkspaceBox, finite_vector, named_values
from robot_touch.core.teleop_singularity import (
    dls_joint_velocity,
    inverse_condition,
    scale_to_limits,
    singularity_speed_scale,
    tool_frame_jacobian,
)
from robot_touch.errors import PoseError


class Code(str, Enum):
    """Teleop status codes (stable strings: the UI and tests match on them)."""

    OK = "ok"
    CLAMPED = "clamped"
    UNREACHABLE = "unreachable"
    NEAR_SINGULARITY = "near_singularity"
    JOINT_LIMIT = "joint_limit"
    HALTED = "halted"
    DISABLED = "disabled"
    ESTOP = "estop"
    NO_JOINT_STATES = "no_joint_states"
    INVALID_POSE = "invalid_pose"
    UNKNOWN_FRAME = "unknown_frame"
    UNKNOWN_JOINT = "unknown_joint"
    INVALID_VALUE = "invalid_value"
    OUT_OF_ORDER = "out_of_order"


#: the status detail until the first joint_states arrive
WAITING_DETAIL = "waiting for joint_states"

#: diagnostic_msgs/DiagnosticStatus levels.
LEVEL_OK, LEVEL_WARN, LEVEL_ERROR, LEVEL_STALE = 0, 1, 2, 3
LEVELS = {Code.OK: LEVEL_OK, Code.ESTOP: LEVEL_ERROR, Code.NO_JOINT_STATES: LEVEL_STALE}

#: Codes that reject an input (the loop keeps running; the node logs one throttled line).
REJECTIONS = frozenset(
    {Code.INVALID_POSE, Code.UNKNOWN_FRAME, Code.UNKNOWN_JOINT, Code.INVALID_VALUE, Code.OUT_OF_ORDER}
)

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
    def ik(self, target: Any, seed: Sequence[float] | None = None, *, max_step: float | None = None) -> Any: ...
    def jacobian(self, q: Sequence[float]) -> np.ndarray: ...
    def condition(self, q: Sequence[float]) -> float: ...
    def reach(self) -> float: ...


@dataclass
class TeleopConfig:
    """Settings of the teleop core: the node's parameters, documented in config/teleop.yaml.

    Units: rate Hz; cartesian_speed m/s; angular_speed rad/s; workspace_min/max m (x y z,
    base frame; empty = from the arm's reach); jog_timeout, joint_states_timeout s;
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

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        positive = ("rate", "cartesian_speed", "angular_speed", "jog_timeout", "joint_states_timeout", "max_joint_step")
        for name in positive:
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, got {v!r}")
        for name in ("velocity_scale", "acceleration_scale", "jerk_scale"):
            v = getattr(self, name)
            if not (math.isfinite(v) and 0 < v <= 1):
                raise ValueError(f"{name} must be within (0, 1], got {v!r}")
        check_speed_override(self.speed_override)
        if not 1 <= self.singularity_slow < self.singularity_stop:
            raise ValueError(
                f"singularity_slow ({self.singularity_slow}) must be ≥ 1 and below singularity_stop ({self.singularity_stop})"
            )
        if not (math.isfinite(self.singularity_damping) and self.singularity_damping >= 0):
            raise ValueError(f"singularity_damping must be ≥ 0, got {self.singularity_damping!r}")
        if bool(len(self.workspace_min)) != bool(len(self.workspace_max)):
            raise ValueError("give both workspace_min and workspace_max, or neither")

    @property
    def period(self) -> float:
        return 1.0 / self.rate


def check_speed_override(value: Any) -> float:
    """``value`` as a speed override, or ValueError: it must be within [0.05, 1.0]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.05 <= value <= 1.0):
        raise ValueError(f"speed_override must be within [0.05, 1.0], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Status:
    """The teleop status as the node publishes it (diagnostic_msgs/DiagnosticStatus)."""

    code: Code
    level: int
    detail: str
    values: dict[str, str] = field(default_factory=dict)

    def key(self) -> tuple:
        """What "changed" means for publish-on-change (not the live numbers)."""
        return (self.code, self.detail, self.values.get("mode"), self.values.get("enabled"))


@dataclass(frozen=True)
class Command:
    """One cycle's output: arm joint positions (profile order), the gripper, velocities."""

    position: np.ndarray
    velocity: np.ndarray
    gripper: float | None

    def as_list(self) -> list[float]:
        """Positions with the gripper appended (forward_position_controller layout)."""
        out = [float(v) for v in self.position]
        if self.gripper is not None:
            out.append(float(self.gripper))
        return out


class TeleopCore:
    """See the module docstring.

    Args:
        profile: the arm.
        config: settings; validated here.
        kinematics: an :class:`~robot_touch.core.kinematics.ArmKinematics` (built from the
            profile when None).
    """

    def __init__(self, profile: ArmProfile, config: TeleopConfig | None = None, kinematics: Kinematics | None = None) -> None:
        self.profile = profile
        self.config = config = config or TeleopConfig()
        config.validate()
        if kinematics is None:
            from robot_touch.core.kinematics import ArmKinematics

            kinematics = ArmKinematics(profile)
        self.kin = kinematics
        self.names = profile.joint_names
        self.limits = JointLimits.from_specs(profile.joints, config.velocity_scale, config.acceleration_scale, config.jerk_scale)
        self.gen = SetpointGenerator(self.limits, profile.home)
        self.gripper_spec = profile.gripper if config.include_gripper else None
        self.gripper_gen = (
            SetpointGenerator(
                JointLimits.from_specs([self.gripper_spec], config.velocity_scale, config.acceleration_scale, config.jerk_scale),
                [self.gripper_spec.home],
            )
            if self.gripper_spec
            else None
        )
        if len(config.workspace_min):
            self.workspace = WorkspaceBox(tuple(config.workspace_min), tuple(config.workspace_max))
        else:
            self.workspace = WorkspaceBox.around_reach(kinematics.reach())
        self._lock = threading.RLock()
        self._stamps = StampGuard()
        self._override = config.speed_override
        self._enabled = config.start_enabled
        self._estop = False
        self._estop_hold: np.ndarray | None = None
        self._estop_gripper: float | None = None
        self._measured: np.ndarray | None = None
        self._measured_gripper: float | None = None
        self._measured_at: float | None = None
        self._backend_ok = False
        self._need_latch = True
        self._publishing = False  # False until latched; False again once disabled and at rest
        self._mode = "idle"  # idle | pose | joint | jog | joint_jog | home
        self._twist: np.ndarray | None = None
        self._twist_frame = "base"
        self._joint_velocity: np.ndarray | None = None
        self._jog_at = -math.inf
        self._code = Code.OK
        self._detail = WAITING_DETAIL
        self._condition = float("nan")
        self._sing_scale = 1.0
        self._move_scale = 1.0  # tip speed limit of the current joint-space move
        self._last_output: np.ndarray | None = None
        self._last_gripper: float | None = None
        self.last_ik: Any = None

    # ------------------------------------------------------------------ status

    def status(self) -> Status:
        """The current status (see the module docstring for the codes)."""
        with self._lock:
            if self._estop:
                code, detail = Code.ESTOP, "e-stop latched: release with teleop/estop data=false"
            elif not self._backend_ok:
                code, detail = Code.NO_JOINT_STATES, (
                    "no joint_states yet" if self._measured_at is None else "joint_states stale: braked and holding"
                )
            elif not self._enabled:
                code, detail = Code.DISABLED, "teleop disabled: enable with teleop/enable data=true"
            else:
                code, detail = self._code, self._detail
            values = {
                "mode": self._mode,
                "enabled": str(self._enabled).lower(),
                "estop": str(self._estop).lower(),
                "speed_override": f"{self._override:.3g}",
                "singularity_scale": f"{self._sing_scale:.3g}",
                "condition": f"{self._condition:.4g}",
            }
            return Status(code, LEVELS.get(code, LEVEL_WARN), detail, values)

    def _event(self, code: Code, detail: str = "") -> None:
        self._code, self._detail = code, detail

    def _clear_event(self, code: Code) -> None:
        """End a condition: back to ok if it is still the shown event."""
        if self._code == code:
            self._code, self._detail = Code.OK, ""

    def _reject(self, exc: InputRejected) -> Code:
        code = Code(exc.code)
        self._event(code, exc.detail)
        return code

    def _gate(self) -> InputRejected | None:
        """Why inputs that move the arm are refused right now, or None."""
        if self._estop:
            return InputRejected(Code.ESTOP.value, "e-stop latched")
        if not self._backend_ok:
            return InputRejected(Code.NO_JOINT_STATES.value, "no joint_states")
        if not self._enabled:
            return InputRejected(Code.DISABLED.value, "teleop disabled")
        return None

    # ------------------------------------------------------------------ settings

    @property
    def speed_override(self) -> float:
        return self._override

    def set_speed_override(self, value: float) -> None:
        """Live speed override (multiplies velocity limits and jog speeds); ValueError if out of [0.05, 1]."""
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

    def on_joint_states(self, names: Sequence[str], positions: Sequence[float], now: float) -> Code | None:
        """Take a joint_states message. Returns a rejection code, or None if used."""
        names = list(names)
        positions = list(positions)
        if len(names) != len(positions):
            return None  # a malformed message from the backend: wait for the next one
        index = {n: i for i, n in enumerate(names)}
        if any(n not in index for n in self.names):
            return None  # some other publisher (e.g. a gripper-only one); not ours to judge
        q = np.array([positions[index[n]] for n in self.names], dtype=float)
        if not np.all(np.isfinite(q)):
            return Code.INVALID_VALUE
        with self._lock:
            self._measured = q
            if self.gripper_spec is not None and self.gripper_spec.name in index:
                g = float(positions[index[self.gripper_spec.name]])
                if math.isfinite(g):
                    self._measured_gripper = g
            if self._measured_at is None or now - self._measured_at > self.config.joint_states_timeout:
                self._need_latch = True
            self._measured_at = now
        return None

    def _latch(self) -> None:
        """Setpoint := measured, at rest, no goal (lock held)."""
        assert self._measured is not None
        self.gen.latch(self._measured)
        if self.gripper_gen is not None:
            g = self._measured_gripper if self._measured_gripper is not None else self.gripper_spec.home
            self.gripper_gen.latch([g])
        self._set_mode("idle")
        self._need_latch = False
        self._publishing = self._enabled
        self._last_output = self.gen.position
        self._last_gripper = None if self.gripper_gen is None else float(self.gripper_gen.position[0])

    # ------------------------------------------------------------------ goals

    def on_target_pose(
        self,
        frame_id: str,
        xyz: Sequence[float],
        quat_xyzw: Sequence[float],
        stamp: float = 0.0,
        now: float = 0.0,
    ) -> Code:
        """Absolute tip target in the base frame (frame_id = base_link or "").

        Returns:
            The status code this input caused (a rejection code leaves the goal unchanged).
        """
        from robot_touch.core.kinematics import pose_from_xyz_quat

        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                if frame_id not in ("", self.profile.base_link):
                    raise InputRejected(
                        Code.UNKNOWN_FRAME.value, f"target_pose frame_id {frame_id!r}: use {self.profile.base_link!r} (or empty)"
                    )
                try:
                    T = pose_from_xyz_quat(xyz, quat_xyzw)
                except PoseError as exc:
                    raise InputRejected(Code.INVALID_POSE.value, f"target_pose: {exc}") from None
                self._stamps.check("target_pose", stamp)
            except InputRejected as exc:
                return self._reject(exc)
            seed = self.gen.target if self._mode in ("pose", "joint", "home") else self.gen.position
        clamped_xyz, clamped = self.workspace.clamp(T[:3, 3])
        T[:3, 3] = clamped_xyz
        # IK outside the lock: the control loop must not wait for a solve.
        result = self.kin.ik(T, seed=seed)
        with self._lock:
            if self._gate():
                return self._reject(self._gate())
            self.last_ik = result
            self._move_to(result.q)
            self._set_mode("pose")
            if not result.ok:
                self._event(
                    Code.UNREACHABLE,
                    f"target not reachable ({result.reason}); moving to the nearest pose, {result.distance * 1000:.1f} mm away",
                )
            elif clamped:
                self._event(Code.CLAMPED, f"target outside the workspace box; clamped to {np.round(clamped_xyz, 4).tolist()} m")
            else:
                self._event(Code.OK)
            return self._code

    def on_joint_target(self, names: Sequence[str], positions: Sequence[float], stamp: float = 0.0, now: float = 0.0) -> Code:
        """Move the named joints (arm and/or gripper) to ``positions``; the others keep their goal."""
        with self._lock:
            known = self.names + ([self.gripper_spec.name] if self.gripper_spec else [])
            try:
                gate = self._gate()
                if gate:
                    raise gate
                values = named_values("joint_target", names, positions, known)
                self._stamps.check("joint_target", stamp)
            except InputRejected as exc:
                return self._reject(exc)
            goal = self.gen.target if self._mode in ("pose", "joint", "home") else self.gen.position
            clamped: list[str] = []
            arm_named = False
            for i, n in enumerate(self.names):
                if n in values:
                    arm_named = True
                    v = values[n]
                    goal[i] = min(self.limits.upper[i], max(self.limits.lower[i], v))
                    if goal[i] != v:
                        clamped.append(n)
            if self.gripper_spec is not None and self.gripper_spec.name in values:
                v = values[self.gripper_spec.name]
                g = self.gripper_spec.clamp(v)
                if g != v:
                    clamped.append(self.gripper_spec.name)
                self.gripper_gen.move_to([g])
            if arm_named:
                self._move_to(goal)
                self._set_mode("joint")
            if clamped:
                self._event(Code.JOINT_LIMIT, f"joint_target clamped into the limits: {', '.join(clamped)}")
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
                    raise InputRejected(Code.UNKNOWN_JOINT.value, f"{self.profile.name} has no gripper output (or include_gripper is false)")
                v = float(opening)
                if not math.isfinite(v):
                    raise InputRejected(Code.INVALID_VALUE.value, f"gripper: {v} is not a number in 0..1")
            except InputRejected as exc:
                return self._reject(exc)
            c = min(1.0, max(0.0, v))
            spec = self.gripper_spec
            self.gripper_gen.move_to([spec.lower + c * (spec.upper - spec.lower)])
            if c != v:
                self._event(Code.CLAMPED, f"gripper opening {v} outside 0..1; clamped to {c}")
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
    ) -> Code:
        """Tip velocity (m/s, rad/s) in the base frame (base_link or "") or tool frame (tip_link)."""
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                if frame_id in ("", self.profile.base_link):
                    frame = "base"
                elif frame_id == self.profile.tip_link:
                    frame = "tool"
                else:
                    raise InputRejected(
                        Code.UNKNOWN_FRAME.value,
                        f"jog frame_id {frame_id!r}: use {self.profile.base_link!r} (base) or {self.profile.tip_link!r} (tool)",
                    )
                v = finite_vector("jog linear", linear, 3)
                w = finite_vector("jog angular", angular, 3)
                self._stamps.check("jog", stamp)
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
            self._mode = "jog"
            self._jog_at = now
            if clamped:
                self._event(Code.CLAMPED, "jog faster than cartesian_speed/angular_speed; limited")
            elif self._code not in (Code.NEAR_SINGULARITY, Code.JOINT_LIMIT):
                self._event(Code.OK)
            return self._code

    def on_joint_jog(self, names: Sequence[str], velocities: Sequence[float], stamp: float = 0.0, now: float = 0.0) -> Code:
        """Joint velocities (rad/s) by name; joints not named stay still."""
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                values = named_values("joint_jog", names, velocities, self.names)
                self._stamps.check("joint_jog", stamp)
            except InputRejected as exc:
                return self._reject(exc)
            qd = np.array([values.get(n, 0.0) for n in self.names])
            limited = np.clip(qd, -self.limits.velocity, self.limits.velocity)
            self._joint_velocity = limited
            self._twist = None
            self._mode = "joint_jog"
            self._jog_at = now
            if np.any(limited != qd):
                self._event(Code.CLAMPED, "joint_jog faster than the joint velocity limits; limited")
            elif self._code != Code.JOINT_LIMIT:
                self._event(Code.OK)
            return self._code

    def _set_mode(self, mode: str) -> None:
        """Switch to a mode other than jogging (lock held): any jog command is forgotten."""
        self._mode = mode
        self._twist = None
        self._joint_velocity = None

    def _move_to(self, goal: np.ndarray) -> None:
        """Start a joint-space move, slowed so the tip stays under ``cartesian_speed`` (lock held).

        The move is previewed (phase-synchronised, so slowing it scales the tip speed along
        the same path) and its velocity limits scaled by limit / peak tip speed; a second
        preview corrects for moves too short to reach their velocity limits.
        """
        limit = self.config.cartesian_speed
        scale = 1.0
        for _ in range(2):
            positions, velocities = self.gen.preview_move(goal, self._override * scale, PREVIEW_SAMPLES)
            peak = max(
                (float(np.linalg.norm(self.kin.jacobian(q)[:3] @ v)) for q, v in zip(positions, velocities)),
                default=0.0,
            )
            if peak <= limit:
                break
            scale *= limit / peak
        self._move_scale = max(scale, MIN_MOVE_SCALE)
        self.gen.set_speed_scale(self._override * self._move_scale)
        self.gen.move_to(goal)

    # ------------------------------------------------------------------ services

    def home(self) -> tuple[bool, str]:
        """Move to the profile's home joints. Returns (accepted, message)."""
        with self._lock:
            gate = self._gate()
            if gate:
                return False, f"not homing: {gate.detail}"
            self._move_to(np.array(self.profile.home))
            self._set_mode("home")
            self._event(Code.OK, "homing")
            return True, "moving to home"

    def set_estop(self, active: bool) -> tuple[bool, str]:
        """Latch (True) or release (False) the e-stop. Returns (success, message)."""
        with self._lock:
            if active:
                if not self._estop:
                    self._estop = True
                    hold = self._measured if self._measured is not None else self.gen.position
                    self._estop_hold = hold.copy()
                    g = self._measured_gripper if self._measured_gripper is not None else self._last_gripper
                    self._estop_gripper = g
                    self._set_mode("idle")
                return True, "e-stop latched: holding the measured position"
            if self._estop:
                self._estop = False
                self._estop_hold = None
                self._need_latch = True
                self._event(Code.OK, "e-stop released")
            return True, "e-stop released"

    def set_enabled(self, enabled: bool) -> tuple[bool, str]:
        """Enable (re-latch to the measured joints) or disable (brake, then stop commanding)."""
        with self._lock:
            if enabled and not self._enabled:
                self._enabled = True
                self._need_latch = True
                self._event(Code.OK, "enabled")
            elif not enabled and self._enabled:
                self._enabled = False
                self._set_mode("idle")
                self.gen.brake()
                if self.gripper_gen is not None:
                    self.gripper_gen.brake()
            return True, "enabled" if enabled else "disabled"

    # ------------------------------------------------------------------ cycle

    def step(self, now: float, dt: float | None = None) -> Command | None:
        """One control cycle.

        Args:
            now: monotonic time (s).
            dt: time since the previous cycle (s); limited to one period (a late cycle never
                advances further than one period, so the arm slows rather than jumps).

        Returns:
            The command to publish, or None (no joint_states yet, or disabled and at rest).
        """
        period = self.config.period
        dt = period if dt is None else min(max(dt, 1e-6), period)
        with self._lock:
            stale = self._measured_at is None or now - self._measured_at > self.config.joint_states_timeout
            if stale:
                if self._backend_ok:
                    self._backend_ok = False
                    self._set_mode("idle")
                    self.gen.brake()
                    if self.gripper_gen is not None:
                        self.gripper_gen.brake()
                if self._last_output is None:
                    return None
                if self._estop:
                    return self._hold_estop()
                return self._advance(dt) if self._publishing else None
            if not self._backend_ok and self._detail == WAITING_DETAIL:
                self._detail = ""  # they arrive now: an idle teleop must not keep saying it waits
            self._backend_ok = True
            if self._estop:
                return self._hold_estop()
            if self._need_latch:
                self._latch()
            if not self._enabled and not self._publishing:
                return None
            if self._mode in ("jog", "joint_jog") and now - self._jog_at > self.config.jog_timeout:
                self._set_mode("idle")
                self.gen.brake()
                self._event(Code.HALTED, f"no jog message for {self.config.jog_timeout:g} s: stopped")
            if self._mode == "jog" and self._twist is not None:
                self._cartesian_jog()
            elif self._mode == "joint_jog" and self._joint_velocity is not None:
                self._joint_jog()
            else:
                self.gen.set_speed_scale(self._override * self._move_scale)
                self._sing_scale = 1.0
                self._clear_event(Code.NEAR_SINGULARITY)
            cmd = self._advance(dt)
            if not self._enabled and self.gen.mode == "hold" and (self.gripper_gen is None or self.gripper_gen.mode == "hold"):
                self._publishing = False  # braked to rest after disable: go quiet
            return cmd

    def _hold_estop(self) -> Command:
        hold = self._estop_hold if self._estop_hold is not None else self.gen.position
        self._last_output = hold.copy()
        gripper = None
        if self.gripper_gen is not None:
            gripper = self._estop_gripper if self._estop_gripper is not None else float(self.gripper_gen.position[0])
        return Command(hold.copy(), np.zeros(len(hold)), gripper)

    def _advance(self, dt: float) -> Command:
        sp = self.gen.step(dt)
        q = sp.position
        # Last safety net: never leave the limits, never step more than max_joint_step.
        prev = self._last_output if self._last_output is not None else q
        step = np.clip(q - prev, -self.config.max_joint_step, self.config.max_joint_step)
        safe = self.limits.clamp(prev + step)
        if np.any(np.abs(safe - q) > 1e-12):
            self.gen.latch(safe)
            self._mode = "idle"
            self._event(Code.JOINT_LIMIT, "output safety net: step or limit exceeded; stopped")
            q = safe
        self._last_output = q
        g = None
        if self.gripper_gen is not None:
            g = float(self.gripper_gen.step(dt).position[0])
            self._last_gripper = g
        return Command(q, sp.velocity, g)

    def _joint_jog(self) -> None:
        qd = self._joint_velocity * self._override
        self.gen.set_speed_scale(self._override)
        self.gen.jog(qd)
        self._limit_event(qd)

    def _limit_event(self, qd: np.ndarray) -> None:
        q = self.gen.position
        at_limit = ((qd > 0) & (q >= self.limits.upper - 1e-6)) | ((qd < 0) & (q <= self.limits.lower + 1e-6))
        if np.any(at_limit):
            names = [n for n, a in zip(self.names, at_limit) if a]
            self._event(Code.JOINT_LIMIT, f"at the joint limit: {', '.join(names)}")
        else:
            self._clear_event(Code.JOINT_LIMIT)

    def _cartesian_jog(self) -> None:
        """Twist → joint velocities at the current setpoint (damped, singularity-aware)."""
        q = self.gen.position
        T = self.kin.fk(q)
        R = T[:3, :3]
        J = self.kin.jacobian(q)
        twist = self._twist.copy()
        if self._twist_frame == "base":
            # Express both in the tool frame, where the task weights are defined.
            twist = np.concatenate((R.T @ twist[:3], R.T @ twist[3:]))
        Jt = tool_frame_jacobian(J, R)
        weights = self.profile.task_weights
        qd = dls_joint_velocity(Jt, twist, weights, self.config.singularity_damping)
        cond = self.kin.condition(q)
        self._condition = cond
        scale = singularity_speed_scale(cond, self.config.singularity_slow, self.config.singularity_stop)
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
            self._event(Code.NEAR_SINGULARITY, "near a singularity: jog slowed; move away from it to speed up")
        else:
            self._clear_event(Code.NEAR_SINGULARITY)
        qd, _ = scale_to_limits(qd * scale * self._override, self.limits.velocity * self._override)
        self.gen.set_speed_scale(self._override)
        self.gen.jog(qd)
        if self._code != Code.NEAR_SINGULARITY:
            self._limit_event(qd)

    def _escape_velocity(self, q: np.ndarray, J: np.ndarray, R: np.ndarray, twist_tool: np.ndarray) -> np.ndarray:
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
                # Tip motion of this nudge, to second order (FK difference), must not oppose the request.
                dp = self.kin.fk(probe)[:3, 3] - self.kin.fk(q)[:3, 3]
                if gain > best_gain and float(dp @ v_base) >= 0.0:
                    best, best_gain = (i, sign), gain
        qd = np.zeros(len(q))
        if best is not None:
            qd[best[0]] = best[1] * ESCAPE_SPEED * self.limits.velocity[best[0]]
        return qd
