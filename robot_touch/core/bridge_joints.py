"""
The bridged joints: radians (or metres) ↔ raw servo units, with each joint's effective limits.

:class:`JointConverter` narrows the profile limits to the calibration's measured raw range and
refuses what is never a position (NaN, ±inf) with :class:`CommandRejected`.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Mapping

from robot_touch.core.calibration import JointCalibration
from robot_touch.core.profile import ArmProfile, Calibration

#: without profile limits (a converter built by hand): seconds to full speed, to full acceleration
DEFAULT_RAMP_TIME = 0.25
DEFAULT_JERK_TIME = 0.05


class CommandRejected(ValueError):
    """A command that is not used at all (wrong length, NaN, unknown joint); says why."""


# ---------------------------------------------------------------------------- conversion


@dataclass(frozen=True)
class JointConverter:
    """
    Radians (or metres) ↔ raw servo units for one joint, with its effective limits.

    ``lower``/``upper`` are the profile limits narrowed to the measured raw range of the
    calibration, so no goal ever leaves the range the real arm was seen to reach.
    """

    name: str
    servo_id: int
    lower: float
    upper: float
    velocity: float
    calibration: Calibration
    raw_low: int | None = None
    raw_high: int | None = None
    acceleration: float = math.inf
    jerk: float = math.inf

    @classmethod
    def build(
        cls,
        name: str,
        servo_id: int,
        lower: float,
        upper: float,
        velocity: float,
        cal: JointCalibration,
        acceleration: float | None = None,
        jerk: float | None = None,
    ) -> JointConverter:
        """
        Return a converter with the calibration's raw range applied.

        Without ``acceleration`` and ``jerk`` (rad/s², rad/s³), full speed is reached in
        :data:`DEFAULT_RAMP_TIME`.
        """
        if acceleration is None:
            acceleration = velocity / DEFAULT_RAMP_TIME
        if jerk is None:
            jerk = acceleration / DEFAULT_JERK_TIME
        raw_low = raw_high = None
        rng = cal.joint_range()
        if rng is not None and cal.raw_min is not None and cal.raw_max is not None:
            lo, hi = max(lower, rng[0]), min(upper, rng[1])
            if lo >= hi:
                raise ValueError(
                    f'{name}: the calibrated range [{rng[0]:.3f}, {rng[1]:.3f}] rad does not '
                    f'overlap the limits [{lower:.3f}, {upper:.3f}] rad: recalibrate'
                )
            lower, upper = lo, hi
            raw_low, raw_high = math.ceil(cal.raw_min), math.floor(cal.raw_max)
        return cls(
            name,
            servo_id,
            lower,
            upper,
            velocity,
            cal.calibration,
            raw_low,
            raw_high,
            acceleration,
            jerk,
        )

    def clamp(self, value: float) -> tuple[float, bool]:
        """
        ``value`` within the limits, and whether it had to be moved.

        :raises CommandRejected: for NaN or ±inf (a broken sender, never a position).
        """
        if not math.isfinite(value):
            raise CommandRejected(f'{self.name}: {value} is not a finite position')
        if value < self.lower:
            return self.lower, True
        if value > self.upper:
            return self.upper, True
        return value, False

    def to_raw(self, value: float) -> int:
        """Joint position → the nearest raw goal inside the limits."""
        clamped, _ = self.clamp(value)
        raw = round(self.calibration.to_raw(clamped))
        if self.raw_low is not None and self.raw_high is not None:
            raw = min(self.raw_high, max(self.raw_low, raw))
        return int(raw)

    def to_joint(self, raw: float) -> float:
        """Raw reading → joint position."""
        return self.calibration.to_joint(raw)


def build_converters(
    profile: ArmProfile, calibration: Mapping[str, JointCalibration], include_gripper: bool = True
) -> list[JointConverter]:
    """One converter per bridged joint: the arm joints, then the gripper if included."""
    specs = profile.all_joints if include_gripper else profile.joints
    return [
        JointConverter.build(
            s.name,
            s.servo_id,
            s.lower,
            s.upper,
            s.velocity,
            calibration[s.name],
            s.acceleration,
            s.jerk,
        )
        for s in specs
    ]


__all__ = ['CommandRejected', 'JointConverter', 'build_converters']
