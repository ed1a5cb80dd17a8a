"""
Servo-side settings: what bus servos apply themselves, checked and shown, as plain Python.

A Feetech or Dynamixel servo subtracts (Feetech) or adds (Dynamixel) its Homing Offset to
every position it reports, clamps or refuses goals outside its Min/Max Position Limit, and
a Dynamixel reverses itself by Drive Mode. A calibration is only true for the servo settings
it was measured with: after a servo is swapped or re-homed the same file would put every
joint somewhere else. So a calibration file records those registers (``servo:`` per joint)
and the bridge compares them with what every servo reads at connect
(:func:`check_servo_settings`), refusing to move on any difference.

Settings LeRobot writes to an SO-101 (P_Coefficient 16 instead of the factory 32; the
gripper's Max_Torque_Limit 500, Protection_Current 250, Overload_Torque 25, so that a
gripping jaw does not burn its servo) are shown by :func:`describe_settings`, at connect
and by ``robot-touch doctor --port``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

#: calibration registers (name in calibration files -> name in messages, LeRobot's spelling)
CALIBRATION_REGISTERS: dict[str, str] = {
    'homing_offset': 'Homing_Offset',
    'min_position_limit': 'Min_Position_Limit',
    'max_position_limit': 'Max_Position_Limit',
    'drive_mode': 'Drive_Mode',
}

#: Feetech STS3215 factory values next to what LeRobot's SO follower writes (configure()),
#: with why: shown wherever a servo still has the factory value.
LEROBOT_SO101_SETTINGS: dict[str, tuple[int, int, str, bool]] = {
    # name: (factory, LeRobot, why, gripper only)
    'p_coefficient': (32, 16, 'a lower position gain keeps the arm from shaking', False),
    'max_torque_limit': (
        1000,
        500,
        'half torque, so a gripping jaw does not burn its servo',
        True,
    ),
    'protection_current': (500, 250, 'half current, for the same reason', True),
    'overload_torque': (80, 25, 'the gripper backs off to 25 % when overloaded', True),
}


@dataclass(frozen=True)
class SettingsVerdict:
    """
    The outcome of :func:`check_servo_settings`.

    ``ok``: every servo reads what the file says. Otherwise ``message`` is the one line to
    show; ``fatal`` when a servo reads something else (the arm must not move on this
    calibration), not fatal when a servo could not be read (try again).
    """

    ok: bool
    message: str = ''
    fatal: bool = False


def check_servo_settings(
    expected: Mapping[int, Mapping[str, int]],
    read: Mapping[int, Mapping[str, int]],
    names: Mapping[int, str],
) -> SettingsVerdict:
    """
    Compare the calibration file's servo settings with what the servos read.

    :param expected: servo id -> register name (see :data:`CALIBRATION_REGISTERS`) -> value the
        file was made with; servos or registers not listed are not checked.
    :param read: servo id -> register name -> value read from the servo now.
    :param names: servo id -> joint name, for the message.
    """
    for servo_id in sorted(expected):
        want = expected[servo_id]
        if not want:
            continue
        who = f'{names.get(servo_id, "servo")} (servo {servo_id})'
        got = read.get(servo_id)
        if got is None:
            return SettingsVerdict(False, f'{who} did not answer the calibration check; retrying')
        for register, value in want.items():
            label = CALIBRATION_REGISTERS.get(register, register)
            if register not in got:
                return SettingsVerdict(
                    False,
                    f'{who}: this protocol cannot read {label}; remove it from the file',
                    True,
                )
            if got[register] != value:
                return SettingsVerdict(
                    False,
                    f'{who}: {label} reads {got[register]}, the calibration file says {value}'
                    ' - the servo was re-homed or swapped; recalibrate (robot-touch calibrate) '
                    'before moving the arm',
                    True,
                )
    return SettingsVerdict(True)


def describe_settings(
    settings: Mapping[int, Mapping[str, int]],
    names: Mapping[int, str],
    gripper_id: int | None = None,
) -> list[str]:
    """
    One line per servo.

    Its calibration registers and gains, and a note wherever an STS3215 still has a factory value
    LeRobot's SO follower changes.
    """
    lines = []
    for servo_id in sorted(settings):
        values = settings[servo_id]
        shown = ', '.join(f'{key} {value}' for key, value in values.items())
        notes = []
        if values.get('model_number') == 777:  # STS3215
            for key, (factory, lerobot, why, gripper_only) in LEROBOT_SO101_SETTINGS.items():
                if gripper_only and servo_id != gripper_id:
                    continue
                if values.get(key) == factory:
                    notes.append(f'{key} is the factory {factory}; LeRobot sets {lerobot}: {why}')
        line = f'{names.get(servo_id, "servo")} (servo {servo_id}): {shown}'
        lines.append(line + ''.join(f'\n    note: {note}' for note in notes))
    return lines
