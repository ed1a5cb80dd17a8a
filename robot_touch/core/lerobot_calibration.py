"""
LeRobot calibration files, converted into ours, saying exactly what was assumed.

Most SO-101 owners calibrated their arm with LeRobot, which writes a JSON file per arm
(``~/.cache/huggingface/lerobot/calibration/robots/so_follower/<id>.json``) mapping each
motor name to ``id``, ``drive_mode``, ``homing_offset``, ``range_min``, ``range_max``, and
writes the offset and the range into the servos themselves (Homing_Offset,
Min/Max_Position_Limit). The facts used here come from LeRobot 0.6.1's sources:

* ``motors_bus.py`` ``_normalize``: a body joint in degrees is
  ``(Present_Position - (range_min + range_max) / 2) * 360 / (resolution - 1)``: the zero is
  the middle of the recorded range and drive_mode is not applied; in the -100..100 and
  0..100 modes drive_mode 1 reverses the joint. The gripper is 0..100 % of its range.
* ``robots/so_follower/so_follower.py``: SO-101 body joints in degrees (``use_degrees``,
  the default), the gripper 0..100; calibrate() records drive_mode 0 and gives wrist_roll
  the whole turn 0..4095. ``feetech.py`` applies drive_mode on the host (the STS3215 has no
  drive-mode register); ``dynamixel.py`` leaves it to the servo's Drive Mode.
* so101_new_calib.urdf (TheRobotStudio SO-ARM100) is drawn with every joint at that
  mid-range zero, which is the so101 profile's URDF zero too, so LeRobot's degrees are our
  radians.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
from pathlib import Path
from typing import Any

from robot_touch.core.calibration import CalibrationError, CalibrationFile, JointCalibration
from robot_touch.core.profile import ArmProfile

#: the fields of one motor in a LeRobot calibration file (lerobot.motors.MotorCalibration)
LEROBOT_FIELDS = ('id', 'drive_mode', 'homing_offset', 'range_min', 'range_max')
#: LeRobot divides by the resolution minus one (4095 for a 12-bit encoder), not 4096
LEROBOT_STEPS_PER_TURN = 4095
#: protocols whose servos keep LeRobot's calibration in their registers
SUPPORTED_PROTOCOLS = ('feetech_sts', 'dynamixel_p2')


@dataclass(frozen=True)
class LeRobotMotor:
    """One motor of a LeRobot calibration file."""

    name: str
    id: int  # noqa: A003 - the servo id, named as the field of LeRobot's calibration file
    drive_mode: int
    homing_offset: int
    range_min: int
    range_max: int


def is_lerobot_calibration(data: Any) -> bool:
    """Return True when ``data`` (parsed JSON or YAML) has the shape of a LeRobot calibration."""
    return (
        isinstance(data, dict)
        and bool(data)
        and all(isinstance(v, dict) and set(LEROBOT_FIELDS) <= set(v) for v in data.values())
    )


def load_lerobot_calibration(path: Path | str) -> list[LeRobotMotor]:
    """
    Read and check a LeRobot calibration JSON file.

    :raises CalibrationError: naming the file and the motor/field at fault.
    """
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise CalibrationError(path, '', f'cannot read ({exc.strerror})') from None
    except ValueError as exc:
        raise CalibrationError(path, '', f'not valid JSON ({exc})') from None
    return parse_lerobot_calibration(data, path)


def parse_lerobot_calibration(
    data: Any, path: Path | str = '<lerobot calibration>'
) -> list[LeRobotMotor]:
    """Return the motors of a parsed LeRobot calibration file, checked."""
    if not is_lerobot_calibration(data):
        raise CalibrationError(
            path,
            '',
            'not a LeRobot calibration file: expected motor name -> '
            f'{{{", ".join(LEROBOT_FIELDS)}}}',
        )
    motors = []
    for name, entry in data.items():
        values = {}
        for key in LEROBOT_FIELDS:
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise CalibrationError(path, f'{name}.{key}', f'must be an integer, got {value!r}')
            values[key] = value
        if values['drive_mode'] not in (0, 1):
            raise CalibrationError(
                path, f'{name}.drive_mode', f'must be 0 or 1, got {values["drive_mode"]}'
            )
        if not values['range_min'] < values['range_max']:
            raise CalibrationError(path, f'{name}.range_max', 'must be greater than range_min')
        motors.append(LeRobotMotor(str(name), **values))
    return motors


def convert_lerobot_calibration(
    profile: ArmProfile,
    motors: list[LeRobotMotor],
    source: Path | str = '<lerobot calibration>',
    date: str = '',
) -> tuple[CalibrationFile, list[str]]:
    """
    Return our calibration for ``profile`` from LeRobot's motors, and every assumption made.

    The assumptions come as a list, one sentence each. Motors are matched to joints by name,
    else by servo id. Body joints follow LeRobot's degrees normalisation exactly; the gripper's
    0..100 % is placed at the profile's lower limit (closed); the servo-side registers LeRobot
    wrote become the ``servo:`` block the bridge checks at connect.

    :raises CalibrationError: a protocol without LeRobot calibration, a joint no motor matches, a
        servo id that differs from the profile's.
    """
    if profile.protocol not in SUPPORTED_PROTOCOLS:
        raise CalibrationError(
            source,
            '',
            f'{profile.name} uses {profile.protocol}; LeRobot calibrations are for '
            f'{" and ".join(SUPPORTED_PROTOCOLS)} servos',
        )
    by_name = {m.name: m for m in motors}
    by_id = {m.id: m for m in motors}
    units = LEROBOT_STEPS_PER_TURN / (2 * math.pi)
    notes = [
        "joint angles follow LeRobot's degrees: "
        'rad = (Present_Position - (range_min + range_max)/2)'
        f' x 2pi/{LEROBOT_STEPS_PER_TURN}, the servo applying its Homing_Offset first; '
        "zero = the middle of the recorded range, the pose the profile's URDF is drawn in "
        '(so101: so101_new_calib)',
        f'units_per_rad {units:.4f} = {LEROBOT_STEPS_PER_TURN}/2pi, as LeRobot divides by the '
        'resolution minus one (the servo has 4096 steps per turn: 0.02 % apart)',
    ]
    joints: dict[str, JointCalibration] = {}
    matched: set[str] = set()
    for spec in profile.all_joints:
        motor = by_name.get(spec.name) or by_id.get(spec.servo_id)
        if motor is None:
            raise CalibrationError(
                source,
                spec.name,
                f'no LeRobot motor named {spec.name} or with id {spec.servo_id} '
                f'(motors: {", ".join(by_name)})',
            )
        matched.add(motor.name)
        if motor.name != spec.name:
            notes.append(
                f"{spec.name}: taken from LeRobot's motor {motor.name!r} "
                f'(same servo id {motor.id})'
            )
        if motor.id != spec.servo_id:
            raise CalibrationError(
                source,
                f'{motor.name}.id',
                f"{motor.id} differs from the profile's servo id {spec.servo_id} "
                f"for {spec.name}: change the servo's id or the profile",
            )
        gripper = spec is profile.gripper
        direction = -1 if (gripper and motor.drive_mode) else 1
        if gripper:
            closed = motor.range_max if direction < 0 else motor.range_min
            zero = closed - direction * units * spec.lower
            span = (motor.range_max - motor.range_min) / units
            notes.append(
                f"{spec.name}: LeRobot's 0..100 % of [{motor.range_min}, {motor.range_max}]; "
                f"0 % (closed) = the profile's lower limit {spec.lower:+.4f} rad, "
                f'100 % (open) = {spec.lower + span:+.4f} rad'
                + ('; drive_mode 1: closed at range_max' if direction < 0 else '')
            )
        else:
            zero = (motor.range_min + motor.range_max) / 2
            if motor.drive_mode:
                notes.append(
                    f"{spec.name}: drive_mode 1 ignored, as LeRobot's degrees mode ignores it"
                )
        if not gripper and motor.range_max - motor.range_min >= LEROBOT_STEPS_PER_TURN:
            notes.append(
                f'{spec.name}: range {motor.range_min}..{motor.range_max} is the whole turn '
                "(LeRobot does not record it); the profile's limits bound this joint"
            )
        servo = {
            'homing_offset': motor.homing_offset,
            'min_position_limit': motor.range_min,
            'max_position_limit': motor.range_max,
            # Feetech: LeRobot applies drive_mode itself and the servo is never reversed;
            # Dynamixel: the servo's Drive Mode holds it
            'drive_mode': motor.drive_mode if profile.protocol == 'dynamixel_p2' else 0,
        }
        joints[spec.name] = JointCalibration(
            zero=zero,
            direction=direction,
            units_per_rad=units,
            raw_min=float(motor.range_min),
            raw_max=float(motor.range_max),
            servo=servo,
        )
    unused = sorted(set(by_name) - matched)
    if unused:
        notes.append(f'motors not in {profile.name}, left out: {", ".join(unused)}')
    notes.append(
        'the bridge checks at connect that every servo still reads this Homing_Offset, '
        'Min/Max_Position_Limit and drive mode (LeRobot wrote them into the servos)'
    )
    cal = CalibrationFile(
        arm=profile.name,
        protocol=profile.protocol,
        joints=joints,
        date=date,
        servo_ids={spec.name: spec.servo_id for spec in profile.all_joints},
    )
    return cal, notes


def lerobot_angle(motor: LeRobotMotor, present: float, gripper: bool = False) -> float:
    """
    Return what LeRobot shows for ``present``.

    Degrees for a body joint, 0..100 for the gripper (its ``_normalize``, for tests and the
    documentation's examples).
    """
    if gripper:
        bounded = min(motor.range_max, max(motor.range_min, present))
        norm = (bounded - motor.range_min) / (motor.range_max - motor.range_min) * 100
        return 100 - norm if motor.drive_mode else norm
    mid = (motor.range_min + motor.range_max) / 2
    return (present - mid) * 360 / LEROBOT_STEPS_PER_TURN
