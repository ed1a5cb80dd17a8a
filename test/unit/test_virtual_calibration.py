"""
The virtual arm emulates the profile.

Its bridge never loads the real arm's calibration file from the user's data folder (it would
command the emulator through another arm's map).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from robot_touch.core.calibration import resolve_calibration
from robot_touch.graph import describe, GraphConfig
from support.calibrations import GOOD  # a calibration of a real so101
import yaml


def bridge_calibration_param(backend: str) -> str:
    config = GraphConfig(backend=backend, port='/dev/ttyUSB0' if backend == 'serial' else '')
    bridge = next(s for s in describe(config) if s.name == 'serial_bridge')
    return bridge.parameters.get('calibration_file', '')


@pytest.fixture
def real_arm_calibrated(so101, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Provide the user's data folder holds a calibration of their real SO-101 (zeros moved)."""
    monkeypatch.setenv('ROBOT_TOUCH_DATA', str(tmp_path))
    path = tmp_path / 'calibration' / 'so101.yaml'
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(GOOD))
    return path


def test_the_virtual_arms_bridge_uses_the_profile_calibration(
    so101, real_arm_calibrated: Path
) -> None:
    merged, source = resolve_calibration(so101, bridge_calibration_param('virtual'))
    assert source is None, "not the real arm's file"
    assert all(merged[j.name].zero == j.calibration.zero for j in so101.all_joints)


def test_a_real_arm_still_gets_its_calibration_file(so101, real_arm_calibrated: Path) -> None:
    merged, source = resolve_calibration(so101, bridge_calibration_param('serial'))
    assert source == real_arm_calibrated and merged['gripper'].zero == 2000
