"""
LeRobot calibration files.

Recognised, converted with every assumption said, refused where they cannot fit; the converted
calibration reproduces LeRobot's normalisation exactly.
"""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.cli.main import main as robot_touch
from robot_touch.core.calibration import (
    CalibrationError,
    load_calibration,
    merge_calibration,
    parse_calibration,
)
from robot_touch.core.lerobot_calibration import (
    convert_lerobot_calibration,
    is_lerobot_calibration,
    lerobot_angle,
    LeRobotMotor,
    load_lerobot_calibration,
    parse_lerobot_calibration,
)
from robot_touch.core.profile import load_profile

#: a LeRobot 0.6.1 SO-101 follower file, as its calibrate() writes one (a real arm's ranges)
LEROBOT_FILE = {
    'shoulder_pan': {
        'id': 1,
        'drive_mode': 0,
        'homing_offset': -2049,
        'range_min': 736,
        'range_max': 3475,
    },
    'shoulder_lift': {
        'id': 2,
        'drive_mode': 0,
        'homing_offset': -2005,
        'range_min': 815,
        'range_max': 3199,
    },
    'elbow_flex': {
        'id': 3,
        'drive_mode': 0,
        'homing_offset': -2084,
        'range_min': 850,
        'range_max': 3063,
    },
    'wrist_flex': {
        'id': 4,
        'drive_mode': 0,
        'homing_offset': -2070,
        'range_min': 811,
        'range_max': 3183,
    },
    'wrist_roll': {
        'id': 5,
        'drive_mode': 0,
        'homing_offset': -2010,
        'range_min': 0,
        'range_max': 4095,
    },
    'gripper': {
        'id': 6,
        'drive_mode': 0,
        'homing_offset': -1887,
        'range_min': 1499,
        'range_max': 3010,
    },
}


def motors(data=LEROBOT_FILE) -> list[LeRobotMotor]:
    return parse_lerobot_calibration(json.loads(json.dumps(data)))


def test_a_lerobot_file_is_recognised_and_ours_is_not(so101):
    assert is_lerobot_calibration(LEROBOT_FILE)
    assert not is_lerobot_calibration(
        {'format': 1, 'arm': 'so101', 'protocol': 'feetech_sts', 'joints': {}}
    )
    assert not is_lerobot_calibration({})


def test_the_bridge_points_a_lerobot_file_at_the_importer(tmp_path):
    path = tmp_path / 'my_so101.json'
    path.write_text(json.dumps(LEROBOT_FILE))
    with pytest.raises(CalibrationError) as err:
        load_calibration(path)  # JSON is YAML: what the bridge's loader gets
    message = str(err.value)
    assert (
        'LeRobot calibration file' in message
        and f'robot-touch calibrate --from-lerobot {path} --arm' in message
    )
    # before this, the user saw "arm: must be a non-empty string, got None"
    assert 'non-empty string' not in message


@given(
    st.integers(0, 4095),
    st.sampled_from(
        ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper']
    ),
)
def test_converted_angles_are_lerobots_normalisation(so101, present, name):
    cal, _notes = convert_lerobot_calibration(so101, motors())
    motor = next(m for m in motors() if m.name == name)
    ours = cal.joints[name].calibration.to_joint(present)
    if name == 'gripper':
        percent = lerobot_angle(motor, present, gripper=True)
        if motor.range_min <= present <= motor.range_max:  # LeRobot clamps outside its range
            span = (motor.range_max - motor.range_min) * 2 * math.pi / 4095
            assert ours == pytest.approx(so101.gripper.lower + percent / 100 * span, abs=1e-9)
    else:
        assert ours == pytest.approx(math.radians(lerobot_angle(motor, present)), abs=1e-9)


def test_conversion_says_what_it_assumed_and_records_the_servo_registers(so101):
    cal, notes = convert_lerobot_calibration(so101, motors())
    text = '\n'.join(notes)
    for said in (
        "LeRobot's degrees",
        '4095/2pi',
        'wrist_roll: range 0..4095 is the whole turn',
        "gripper: LeRobot's 0..100 %",
        'checks at connect',
    ):
        assert said in text
    pan = cal.joints['shoulder_pan']
    assert (
        pan.zero == (736 + 3475) / 2
        and pan.direction == 1
        and (pan.raw_min, pan.raw_max) == (736, 3475)
    )
    assert pan.servo == {
        'homing_offset': -2049,
        'min_position_limit': 736,
        'max_position_limit': 3475,
        'drive_mode': 0,
    }
    assert cal.joints['gripper'].calibration.to_joint(1499) == pytest.approx(so101.gripper.lower)
    assert cal.servo_ids['gripper'] == 6
    merged = merge_calibration(so101, parse_calibration(yaml_round_trip(cal)))
    assert merged['elbow_flex'] == cal.joints['elbow_flex']  # the written file reads back the same


def yaml_round_trip(cal):
    import yaml

    return yaml.safe_load(cal.to_yaml())


def test_drive_mode_one_is_ignored_in_degrees_and_swaps_the_gripper(so101):
    data = json.loads(json.dumps(LEROBOT_FILE))
    data['elbow_flex']['drive_mode'] = 1
    data['gripper']['drive_mode'] = 1
    cal, notes = convert_lerobot_calibration(so101, motors(data))
    assert cal.joints['elbow_flex'].direction == 1 and any(
        'elbow_flex: drive_mode 1 ignored' in n for n in notes
    )
    gripper = cal.joints['gripper']
    assert gripper.direction == -1 and gripper.calibration.to_joint(3010) == pytest.approx(
        so101.gripper.lower
    )
    assert gripper.servo['drive_mode'] == 0  # Feetech: LeRobot's drive mode is a host setting


def test_motors_are_matched_by_id_when_named_otherwise(so101):
    data = {f'motor{i}': entry for i, entry in enumerate(LEROBOT_FILE.values(), 1)}
    cal, notes = convert_lerobot_calibration(so101, motors(data))
    assert set(cal.joints) == {s.name for s in so101.all_joints}
    assert any("shoulder_pan: taken from LeRobot's motor 'motor1'" in n for n in notes)


@pytest.mark.parametrize(
    'change, message',
    [
        (
            lambda d: d['elbow_flex'].update(id=9),
            "elbow_flex.id: 9 differs from the profile's servo id 3",
        ),
        (lambda d: d.pop('gripper'), 'gripper: no LeRobot motor named gripper or with id 6'),
        (
            lambda d: d['wrist_flex'].update(range_min=4000),
            'wrist_flex.range_max: must be greater than range_min',
        ),
        (
            lambda d: d['wrist_flex'].update(homing_offset=1.5),
            'wrist_flex.homing_offset: must be an integer',
        ),
        (lambda d: d['wrist_flex'].update(drive_mode=2), 'wrist_flex.drive_mode: must be 0 or 1'),
    ],
    ids=['other_id', 'missing_motor', 'empty_range', 'float', 'drive_mode'],
)
def test_files_that_cannot_fit_are_refused_naming_the_motor(so101, change, message):
    data = json.loads(json.dumps(LEROBOT_FILE))
    change(data)
    with pytest.raises(CalibrationError, match=message.replace('(', r'\(').replace(')', r'\)')):
        convert_lerobot_calibration(so101, motors(data))


def test_a_pwm_arm_has_no_lerobot_calibration():
    with pytest.raises(CalibrationError, match='LeRobot calibrations are for'):
        convert_lerobot_calibration(load_profile('servo6'), motors())


def test_cli_converts_and_keeps_the_old_file(tmp_path, capsys):
    source = tmp_path / 'my_so101.json'
    source.write_text(json.dumps(LEROBOT_FILE))
    out = tmp_path / 'so101.yaml'
    out.write_text('old')
    assert (
        robot_touch(
            ['calibrate', '--from-lerobot', str(source), '--arm', 'so101', '--out', str(out)]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert 'Assumed:' in printed and f'calibration written to {out}' in printed
    assert (tmp_path / 'so101.yaml.bak').read_text() == 'old'
    assert load_calibration(out).joints['shoulder_pan'].servo['homing_offset'] == -2049
    assert (
        robot_touch(
            ['calibrate', '--from-lerobot', str(tmp_path / 'missing.json'), '--arm', 'so101']
        )
        == 2
    )
    assert 'cannot read' in capsys.readouterr().err


def test_calibrate_without_port_or_lerobot_file_says_what_to_give(capsys):
    assert robot_touch(['calibrate', '--arm', 'so101']) == 2
    assert 'give --port URL' in capsys.readouterr().err


def test_a_malformed_lerobot_file_is_one_clear_error(tmp_path):
    path = tmp_path / 'bad.json'
    path.write_text('{not json')
    with pytest.raises(CalibrationError, match='not valid JSON'):
        load_lerobot_calibration(path)
    path.write_text(json.dumps({'shoulder_pan': {'id': 1}}))
    with pytest.raises(CalibrationError, match='not a LeRobot calibration file'):
        load_lerobot_calibration(path)
