"""
The emulated servos of an arm profile: one :class:`ServoModel` per joint, in raw units.

The servos are the *physical* arm: where each one's encoder reads when its joint is at a
given angle is the arm's build (how the horns were mounted), its ``mounting``. By default
the virtual arm is built exactly as the profile's nominal calibration says; a test can
build it otherwise (a horn a few teeth off, a servo mounted the other way round) to see a
calibration find that out.
"""

from __future__ import annotations

from typing import Mapping

from robot_touch.core.profile import ArmProfile, Calibration, JointSpec
from robot_touch.virtual_arm.device import ServoModel

#: How fast a PWM servo turns relative to the profile's joint velocity limit (a PWM board
#: cannot tell; bus devices use their servo's datasheet speed instead). Profiles set that
#: limit deliberately below the servo's maximum (see config/arms/servo6.yaml), so a servo
#: that could only just reach it would lag every streamed command.
SPEED_MARGIN = 1.5


def servo_for_joint(spec: JointSpec, mounting: Calibration | None = None) -> ServoModel:
    """
    Return a servo at the joint's home pose.

    Its encoder is related to the joint by ``mounting`` (default: the profile's nominal
    calibration).
    """
    cal = mounting or spec.calibration
    home = cal.to_raw(spec.home)
    return ServoModel(
        servo_id=spec.servo_id,
        position=home,
        goal=home,
        speed=spec.velocity * cal.units_per_rad * SPEED_MARGIN,
    )


def build_mounting(
    profile: ArmProfile, overrides: Mapping[str, Calibration] | None = None
) -> dict[str, Calibration]:
    """Joint name -> how its servo is mounted: the profile's calibration unless overridden."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {spec.name for spec in profile.all_joints})
    if unknown:
        raise KeyError(f'{", ".join(unknown)}: not joints of {profile.name}')
    return {spec.name: overrides.get(spec.name, spec.calibration) for spec in profile.all_joints}


def build_servos(
    profile: ArmProfile, mounting: Mapping[str, Calibration] | None = None
) -> dict[int, ServoModel]:
    """Servo id (or PWM channel) -> model, for every joint of ``profile`` (gripper included)."""
    mounts = build_mounting(profile, mounting)
    return {spec.servo_id: servo_for_joint(spec, mounts[spec.name]) for spec in profile.all_joints}
