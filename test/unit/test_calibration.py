"""Calibration files (load, save, validate, merge) and the calibration procedure's steps."""

from __future__ import annotations

from pathlib import Path

import pytest
from robot_touch.core.calibration import (
    CalibrationError,
    CalibrationFile,
    CalibrationProcedure,
    JointCalibration,
    load_calibration,
    merge_calibration,
    resolve_calibration,
    save_calibration,
    StepKind,
)
from support.calibrations import GOOD, UPR
import yaml


def test_save_then_load_gives_the_same_calibration(tmp_path):
    cal = CalibrationFile(
        arm='so101',
        protocol='feetech_sts',
        date='2026-11-23T12:00:00+00:00',
        joints={
            'shoulder_pan': JointCalibration(2100, -1, UPR, 900, 3100),
            'gripper': JointCalibration(1990.5, 1, UPR),
        },
        servo_ids={'shoulder_pan': 1},
    )
    path = save_calibration(cal, tmp_path / 'sub' / 'so101.yaml')
    assert path.read_text().startswith('# robot_touch calibration of a so101 arm')
    assert load_calibration(path) == cal


def test_merge_overrides_named_joints_and_keeps_profile_defaults_for_the_rest(so101, tmp_path):
    cal = CalibrationFile(
        'so101', 'feetech_sts', {'elbow_flex': JointCalibration(1000, -1, UPR, 500, 1500)}
    )
    merged = merge_calibration(so101, cal)
    assert merged['elbow_flex'] == JointCalibration(1000, -1, UPR, 500, 1500)
    assert merged['shoulder_pan'] == JointCalibration(2048, 1, UPR)
    assert list(merged) == [j.name for j in so101.all_joints]


def _write(tmp_path: Path, data) -> Path:
    path = tmp_path / 'cal.yaml'
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    'patch, field, message',
    [
        (
            {'joints': {'gripper': {'zero': 2000, 'direction': 2, 'units_per_rad': UPR}}},
            'joints.gripper.direction',
            'must be 1 or -1',
        ),
        (
            {'joints': {'gripper': {'zero': '.nan', 'direction': 1, 'units_per_rad': UPR}}},
            'joints.gripper.zero',
            'finite number',
        ),
        (
            {'joints': {'gripper': {'zero': 1, 'direction': 1, 'units_per_rad': -3}}},
            'joints.gripper.units_per_rad',
            'positive',
        ),
        (
            {
                'joints': {
                    'gripper': {
                        'zero': 1,
                        'direction': 1,
                        'units_per_rad': UPR,
                        'raw_min': 9,
                        'raw_max': 3,
                    }
                }
            },
            'joints.gripper.raw_max',
            'greater than raw_min',
        ),
        (
            {
                'joints': {
                    'gripper': {'zero': 1, 'direction': 1, 'units_per_rad': UPR, 'raw_min': 9}
                }
            },
            'joints.gripper',
            'both raw_min and raw_max',
        ),
        ({'format': 7}, 'format', 'not supported'),
        ({'arm': ''}, 'arm', 'non-empty string'),
        ({'joints': []}, 'joints', 'must map each joint'),
    ],
    ids=[
        'direction',
        'nan-zero',
        'negative-units',
        'range-reversed',
        'half-range',
        'format',
        'no-arm',
        'joints-list',
    ],
)
def test_bad_file_names_the_file_and_field(tmp_path, patch, field, message):
    data = {**GOOD, **patch}
    text = yaml.safe_dump(data).replace("'.nan'", '.nan')
    path = _write(tmp_path, text)
    with pytest.raises(CalibrationError, match=message) as info:
        load_calibration(path)
    assert info.value.field == field and info.value.path == str(path)


def test_not_yaml_is_a_clear_error(tmp_path):
    with pytest.raises(CalibrationError, match='not valid YAML'):
        load_calibration(_write(tmp_path, 'joints: [unclosed'))


@pytest.mark.parametrize(
    'patch, field, message',
    [
        ({'arm': 'koch'}, 'arm', "calibrates 'koch', not 'so101'"),
        (
            {'joints': {'elbow': {'zero': 1, 'direction': 1, 'units_per_rad': UPR}}},
            'joints.elbow',
            'no such joint',
        ),
        (
            {
                'joints': {
                    'gripper': {'servo_id': 9, 'zero': 1, 'direction': 1, 'units_per_rad': UPR}
                }
            },
            'joints.gripper.servo_id',
            'differs',
        ),
    ],
    ids=['other-arm', 'unknown-joint', 'other-servo-id'],
)
def test_file_that_does_not_fit_the_profile_is_refused(so101, tmp_path, patch, field, message):
    path = _write(tmp_path, {**GOOD, **patch})
    with pytest.raises(CalibrationError, match=message) as info:
        resolve_calibration(so101, path)
    assert info.value.field == field


def test_resolve_uses_the_default_file_only_when_it_exists(so101, tmp_path, monkeypatch):
    monkeypatch.setenv('ROBOT_TOUCH_DATA', str(tmp_path))
    merged, source = resolve_calibration(so101, '')
    assert source is None and merged['gripper'].zero == 2048
    default = tmp_path / 'calibration' / 'so101.yaml'
    default.parent.mkdir()
    default.write_text(yaml.safe_dump(GOOD))
    merged, source = resolve_calibration(so101, '')
    assert source == default and merged['gripper'].zero == 2000
    with pytest.raises(CalibrationError, match='no such calibration file'):
        resolve_calibration(so101, tmp_path / 'missing.yaml')


# ---------------------------------------------------------------------------- the procedure


def readings(proc, **moved):
    """Raw readings of every joint: 2048 plus ``moved`` offsets (raw units)."""
    return {name: 2048 + moved.get(name, 0) for name in proc.joints}


def run_to_range(proc, flip=()):
    proc.feed(readings(proc))
    assert proc.enter().accepted
    for name in proc.joints:
        assert proc.step.kind is StepKind.DIRECTION and proc.step.joint == name
        proc.feed(readings(proc, **{name: -120 if name in flip else 120}))
        assert proc.enter().accepted
        proc.feed(readings(proc))


def test_procedure_records_zero_directions_and_ranges(so101):
    proc = CalibrationProcedure(so101)
    assert proc.step.kind is StepKind.ZERO and 'zero pose' in proc.step.prompt
    run_to_range(proc, flip=('elbow_flex',))
    assert proc.step.kind is StepKind.RANGE
    proc.feed(readings(proc, **dict.fromkeys(proc.joints, -600)))
    proc.feed(readings(proc, **dict.fromkeys(proc.joints, 700)))
    outcome = proc.enter()
    assert outcome.accepted and proc.done
    result = proc.result('feetech_sts', date='2026-11-23')
    assert result.joints['elbow_flex'].direction == -1 and proc.flipped == ['elbow_flex']
    assert result.joints['shoulder_pan'] == JointCalibration(2048, 1, UPR, 2048 - 600, 2048 + 700)
    assert result.servo_ids['gripper'] == 6


def test_direction_reversed_is_reported_and_flipped(so101):
    proc = CalibrationProcedure(so101)
    proc.feed(readings(proc))
    proc.enter()
    proc.feed(readings(proc, shoulder_pan=-300))
    outcome = proc.enter()
    assert (
        outcome.accepted and 'reversed' in outcome.message and 'flipped to -1' in outcome.message
    )


def test_too_small_a_move_repeats_the_direction_step(so101):
    proc = CalibrationProcedure(so101)
    proc.feed(readings(proc))
    proc.enter()
    proc.feed(readings(proc, shoulder_pan=20))
    outcome = proc.enter()
    assert not outcome.accepted and 'move it at least 0.15 rad' in outcome.message
    assert proc.step.joint == 'shoulder_pan'


def test_missing_reading_blocks_the_step_with_a_hint(so101):
    proc = CalibrationProcedure(so101)
    proc.feed({**readings(proc), 'gripper': None})
    outcome = proc.enter()
    assert not outcome.accepted and 'No reading from gripper' in outcome.message
    assert proc.step.kind is StepKind.ZERO


def test_narrow_range_names_the_joints_to_move_again(so101):
    proc = CalibrationProcedure(so101)
    run_to_range(proc)
    proc.feed(readings(proc, **{n: 700 for n in proc.joints if n != 'wrist_roll'}))
    outcome = proc.enter()
    assert (
        not outcome.accepted
        and 'wrist_roll' in outcome.message
        and 'shoulder_pan' not in outcome.message
    )
    with pytest.raises(RuntimeError, match='not finished'):
        proc.result('feetech_sts')


def test_live_line_shows_raw_and_radians(so101):
    proc = CalibrationProcedure(so101)
    proc.feed({**readings(proc, shoulder_pan=652), 'gripper': None})
    line = proc.live_line()
    assert 'shoulder_pan  2700  +1.00' in line and 'gripper ----' in line
