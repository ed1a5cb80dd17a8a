"""The emulated servos of an arm profile: one :class:`ServoModel` per joint, in raw units."""
from __future__ import annotations

from robot_touch.core.profile import ArmProfile, JointSpec
from robot_touch.virtual_arm.device import ServoModel

#: How much faster the emulated servo is than the profile's joint velocity limit. Profiles
#: set that limit deliberately below the servo's maximum (see config/arms/so101.yaml), so a
#: servo that could only just reach it would lag every streamed command.
SPEED_MARGIN = 1.5


def servo_for_joint(spec: JointSpec) -> ServoModel:
    """A servo at the joint's home, its raw range the joint limits through the calibration."""
    ends = sorted((spec.calibration.to_raw(spec.lower), spec.calibration.to_raw(spec.upper)))
    home = spec.calibration.to_raw(spec.home)
    return ServoModel(
        servo_id=spec.servo_id,
        position=home,
        goal=home,
        speed=spec.velocity * spec.calibration.units_per_rad * SPEED_MARGIN,
        minimum=ends[0],
        maximum=ends[1],
    )


def build_servos(profile: ArmProfile) -> dict[int, ServoModel]:
    """Servo id (or PWM channel) -> model, for every joint of ``profile`` (gripper included)."""
    return {spec.servo_id: servo_for_joint(spec) for spec in profile.all_joints}
