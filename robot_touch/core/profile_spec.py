"""
An arm profile as data, and the keys a profile YAML may hold.

:class:`ArmProfile`, its :class:`JointSpec` joints and their :class:`Calibration`.

Import these names from :mod:`robot_touch.core.profile`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from robot_touch.core.profile_urdf import expand_urdf, parse_urdf_joints

#: Task axes in the order IK weights use them: translation x y z, rotation about x y z.
TASK_AXES = ('x', 'y', 'z', 'rx', 'ry', 'rz')

#: The keys a profile may have, at each level (config/arms/README.md): anything else is a typo.
TOP_KEYS = (
    'name',
    'description',
    'urdf',
    'base_link',
    'tip_link',
    'protocol',
    'baudrate',
    'protocol_options',
    'ik',
    'joints',
    'gripper',
    'free_drive',
)
JOINT_KEYS = (
    'servo_id',
    'lower',
    'upper',
    'velocity',
    'acceleration',
    'jerk',
    'home',
    'type',
    'calibration',
)
CALIBRATION_KEYS = ('zero', 'direction', 'units_per_rad')
IK_KEYS = ('task_weights',)
FREE_DRIVE_KEYS = ('estop',)
#: what an e-stop during free drive does: hold (torque on where the arm is) or release
FREE_DRIVE_ESTOP = ('hold', 'release')


@dataclass(frozen=True)
class Calibration:
    """
    Linear map between joint units (rad, or m for prismatic) and raw servo units.

    ``raw = zero + direction * units_per_rad * joint``
    """

    zero: float
    direction: int
    units_per_rad: float

    def to_raw(self, joint: float) -> float:
        """Joint position (rad) → raw servo units (not rounded)."""
        return self.zero + self.direction * self.units_per_rad * joint

    def to_joint(self, raw: float) -> float:
        """Raw servo units → joint position (rad)."""
        return (raw - self.zero) * self.direction / self.units_per_rad


@dataclass(frozen=True)
class JointSpec:
    """One actuated joint: its limits (REP-103 units) and its servo."""

    name: str
    servo_id: int
    lower: float
    upper: float
    velocity: float
    acceleration: float
    jerk: float
    calibration: Calibration
    prismatic: bool = False
    home: float = 0.0

    def clamp(self, value: float) -> float:
        """``value`` limited to [lower, upper]."""
        return min(self.upper, max(self.lower, value))


@dataclass(frozen=True)
class ArmProfile:
    """A loaded, validated arm profile."""

    name: str
    path: Path
    description: str
    urdf_path: Path
    base_link: str
    tip_link: str
    protocol: str
    baudrate: int
    joints: tuple[JointSpec, ...]
    gripper: JointSpec | None
    task_weights: tuple[float, ...]
    protocol_options: Mapping[str, Any] = field(default_factory=dict)
    #: an e-stop during free drive: "hold" (torque back on where the arm is) or "release"
    free_drive_estop: str = 'hold'

    @property
    def joint_names(self) -> list[str]:
        """Arm joint names in command order (the gripper is not among them)."""
        return [j.name for j in self.joints]

    @property
    def all_joints(self) -> tuple[JointSpec, ...]:
        """Arm joints, then the gripper if there is one (servo order on the bus)."""
        return self.joints + ((self.gripper,) if self.gripper else ())

    @property
    def dof(self) -> int:
        return len(self.joints)

    @property
    def home(self) -> list[float]:
        return [j.home for j in self.joints]

    @property
    def lower(self) -> list[float]:
        return [j.lower for j in self.joints]

    @property
    def upper(self) -> list[float]:
        return [j.upper for j in self.joints]

    def joint(self, name: str) -> JointSpec:
        """
        Return the arm or gripper joint called ``name``.

        :raises KeyError: naming the known joints.
        """
        for j in self.all_joints:
            if j.name == name:
                return j
        raise KeyError(
            f'{name!r} is not a joint of {self.name} '
            f'(joints: {", ".join(j.name for j in self.all_joints)})'
        )

    def urdf_xml(self, hardware: str = 'mock', **xacro_args: str) -> str:
        """
        Return the expanded URDF text (xacro processed) with the given ros2_control hardware.

        ``xacro_args`` are further xacro arguments (``namespace``, ``controllers``).
        """
        return expand_urdf(
            self.urdf_path, hardware=hardware, profile_path=self.path, xacro_args=xacro_args
        )

    @cached_property
    def urdf_joints(self) -> dict[str, dict[str, Any]]:
        """Joints of the expanded URDF: name → {type, parent, child, lower, upper, velocity}."""
        return parse_urdf_joints(self.urdf_xml(), self.urdf_path)
