"""
What teleop says and sends: status codes, modes, free-drive phases, the status, the command.

Status codes (:class:`Code`): the latest thing that happened, overridden while a standing
condition holds (priority estop > joint_states_conflict > no_joint_states > free_drive >
disabled > relatching). Levels follow diagnostic_msgs/DiagnosticStatus (0 OK, 1 WARN,
2 ERROR, 3 STALE).

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

import numpy as np


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


class Mode(str, Enum):
    """What drives the setpoint (stable strings: the status value ``mode``)."""

    IDLE = 'idle'  # holding, or braking to rest
    POSE = 'pose'  # moving to a target_pose's joints
    JOINT = 'joint'  # moving to a joint_target
    JOG = 'jog'  # following a tip twist
    JOINT_JOG = 'joint_jog'  # following joint velocities
    HOME = 'home'  # moving to the profile's home joints
    RELATCH = 'relatch'  # ramping the command to the measured joints after a hold


#: modes that move to a goal (a new goal is seeded from the old goal, not the setpoint)
GOAL_MODES = (Mode.POSE, Mode.JOINT, Mode.HOME)
#: modes that follow a velocity stream (braked when it goes stale)
JOG_MODES = (Mode.JOG, Mode.JOINT_JOG)


class FreeDrivePhase(str, Enum):
    """Free drive's phases (:mod:`robot_touch.core.free_drive` runs the sequence)."""

    OFF = 'off'
    STOPPING = 'stopping'  # braking to rest before joints are released
    RELEASING = 'releasing'  # switching torque off
    ON = 'on'  # released: moved by hand
    ENGAGING = 'engaging'  # switching torque back on


#: free drive phases in which nothing is published (joints released or being switched)
SILENT_PHASES = (FreeDrivePhase.RELEASING, FreeDrivePhase.ON, FreeDrivePhase.ENGAGING)
FREE_DRIVE_DETAILS = {
    FreeDrivePhase.STOPPING: 'stopping before free drive',
    FreeDrivePhase.RELEASING: 'free drive: releasing {joints}',
    FreeDrivePhase.ON: (
        'free drive: {joints} released (torque off), moved by hand; the arm sags under '
        'gravity: support it. teleop/free_drive data=false holds it where it is'
    ),
    FreeDrivePhase.ENGAGING: (
        'free drive ending: torque back on for {joints}, holding where the arm is'
    ),
}

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
        """Return the velocities with the gripper's appended, in :meth:`as_list` order."""
        out = [float(v) for v in self.velocity]
        if self.gripper is not None:
            out.append(float(self.gripper_velocity))
        return out

    def as_list(self) -> list[float]:
        """Return the positions with the gripper appended (forward_position_controller layout)."""
        out = [float(v) for v in self.position]
        if self.gripper is not None:
            out.append(float(self.gripper))
        return out
