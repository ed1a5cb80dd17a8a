"""
Teleop's settings: :class:`TeleopConfig`, the ranges of its numbers, stated once.

The ``teleop`` node declares one ROS parameter per setting; its descriptors take their ranges
from :data:`RANGES` and the node builds the config from the declared values
(:meth:`TeleopConfig.from_parameters`). Used without ROS (tests, the fault rig), the config
checks the same ranges itself (:meth:`TeleopConfig.validate`). config/teleop.yaml documents
them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

#: setting → (lowest, highest) value allowed, both included; units as in :class:`TeleopConfig`
RANGES: dict[str, tuple[float, float]] = {
    'rate': (10.0, 1000.0),
    'speed_override': (0.05, 1.0),
    'velocity_scale': (0.01, 1.0),
    'acceleration_scale': (0.01, 1.0),
    'jerk_scale': (0.01, 1.0),
    'cartesian_speed': (0.001, 2.0),
    'angular_speed': (0.01, 10.0),
    'jog_timeout': (0.01, 5.0),
    'joint_states_timeout': (0.02, 10.0),
    'max_joint_step': (0.001, 1.0),
    'singularity_slow': (1.0, 1e9),
    'singularity_stop': (1.0, 1e9),
    'singularity_damping': (0.0, 1.0),
    'max_stamp_lead': (0.0, 60.0),
}


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


def check_range(name: str, value: Any) -> float:
    """
    Return ``value`` as the setting ``name``, checked against :data:`RANGES`.

    :raises ValueError: naming the setting and its range, if ``value`` is not a number in it.
    """
    low, high = RANGES[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (low <= value <= high)  # False for NaN
    ):
        raise ValueError(f'{name} must be within [{low}, {high}], got {value!r}')
    return float(value)


def check_speed_override(value: Any) -> float:
    """
    Return ``value`` as a speed override.

    :raises ValueError: if it is not within [0.05, 1.0].
    """
    return check_range('speed_override', value)


@dataclass
class TeleopConfig:
    """
    Settings of the teleop core: the node's parameters, documented in config/teleop.yaml.

    Units: rate Hz; cartesian_speed m/s; angular_speed rad/s; workspace_min/max m (x y z,
    base frame; empty = from the arm's reach); jog_timeout, joint_states_timeout,
    max_stamp_lead s; max_joint_step rad; singularity_slow/stop condition numbers; the scales
    and the speed override are factors. The ranges are :data:`RANGES`.
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

    @classmethod
    def from_parameters(cls, values: Mapping[str, Any]) -> TeleopConfig:
        """
        Return the config of the declared parameter ``values`` (name → value).

        Names that are not settings are ignored; a setting left out, or unset (None, as an
        array parameter declared without a default), keeps its default.
        """
        given = {
            f.name: values[f.name]
            for f in fields(cls)
            if f.name in values and values[f.name] is not None
        }
        return cls(**given)

    def validate(self) -> None:
        """
        Check every setting.

        :raises ValueError: naming the first bad setting.
        """
        for name in RANGES:
            check_range(name, getattr(self, name))
        if not self.singularity_slow < self.singularity_stop:
            raise ValueError(
                f'singularity_slow ({self.singularity_slow}) must be below '
                f'singularity_stop ({self.singularity_stop})'
            )
        if bool(len(self.workspace_min)) != bool(len(self.workspace_max)):
            raise ValueError('give both workspace_min and workspace_max, or neither')
        # the corners themselves: WorkspaceBox checks them when the core builds it

    @property
    def period(self) -> float:
        """Return the seconds between two control cycles."""
        return 1.0 / self.rate
