"""
Profile checks at load.

What would break the bridge or the simulator later is one clear error now — limits the servo cannot
reach, typos in keys, an unknown protocol, a URDF a physics engine cannot simulate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from robot_touch.core.profile import check_for_simulation, load_profile, profiles_dir
from robot_touch.errors import ProfileError
from support.profiles import (
    user_profile_data,
    USER_URDF,
    write_user_profile,
)
import yaml


def servo6_copy(tmp_path: Path, edit) -> Path:
    """servo6.yaml copied next to its URDF path, edited."""
    data = yaml.safe_load((profiles_dir() / 'servo6.yaml').read_text())
    data['urdf'] = str((profiles_dir() / data['urdf']).resolve())
    edit(data)
    path = tmp_path / 'servo6_edited.yaml'
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_limit_the_pwm_servo_cannot_reach_is_refused_at_load(tmp_path: Path) -> None:
    """The issue's case: ±2.0 rad on an SSC-32U joint is 227..2773 µs, outside 500..2500."""

    def widen(data: dict) -> None:
        data['joints']['wrist_roll']['lower'] = -2.0
        data['joints']['wrist_roll']['upper'] = 2.0

    path = servo6_copy(tmp_path, widen)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert err.value.field == 'joints.wrist_roll.lower'
    assert '-2 rad is raw 227 through the calibration' in str(err.value)
    assert "outside ssc32's goal range 500..2500, the servo cannot reach it" in str(err.value)


def test_a_calibration_that_shifts_a_limit_out_of_range_is_refused(tmp_path: Path) -> None:
    data = user_profile_data()
    data['joints']['yaw']['calibration']['zero'] = 3500  # +1.9 rad -> 4739 steps > 4095
    with pytest.raises(
        ProfileError,
        match=r"joints\.yaw\.upper: 1\.9 rad is raw 4739 .* feetech_sts's goal range 0\.\.4095",
    ):
        load_profile(write_user_profile(tmp_path, data))


@pytest.mark.parametrize(
    ('where', 'key', 'message'),
    [
        (['joints', 'pitch'], 'hom', "unknown key 'hom' in joints.pitch; did you mean 'home'?"),
        (
            ['joints', 'pitch', 'calibration'],
            'units_per_radian',
            "unknown key 'units_per_radian' in joints.pitch.calibration; "
            "did you mean 'units_per_rad'?",
        ),
        ([], 'protocl', "unknown key 'protocl'; did you mean 'protocol'?"),
        (['ik'], 'weights', "unknown key 'weights' in ik; did you mean 'task_weights'?"),
    ],
    ids=['joint', 'calibration', 'top', 'ik'],
)
def test_an_unknown_key_names_the_nearest_valid_one(
    tmp_path: Path, where: list[str], key: str, message: str
) -> None:
    data = user_profile_data()
    node = data
    for part in where:
        node = node[part]
    node[key] = 1
    path = write_user_profile(tmp_path, data)
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert str(err.value) == f'{path.resolve()}: {message}'


def test_the_protocol_is_checked_against_the_registry(tmp_path: Path) -> None:
    data = user_profile_data()
    data['protocol'] = 'feetech_st'
    with pytest.raises(
        ProfileError,
        match=r"protocol: unknown protocol 'feetech_st'; did you mean 'feetech_sts'\? \(known: ",
    ):
        load_profile(write_user_profile(tmp_path, data))


def test_a_moving_link_without_inertial_cannot_be_simulated(tmp_path: Path) -> None:
    p = load_profile(write_user_profile(tmp_path))  # the test URDF has no <inertial> at all
    with pytest.raises(
        ProfileError,
        match=r"link\[l1\]: moved by joint 'yaw' but has no <inertial> \(and 2 more: l2, tool\)",
    ):
        check_for_simulation(p)


def test_a_body_without_visual_is_reported_before_a_render(tmp_path: Path) -> None:
    inertial = (
        '<inertial><mass value="0.1"/>'
        '<inertia ixx="1e-4" iyy="1e-4" izz="1e-4" ixy="0" ixz="0" iyz="0"/></inertial>'
    )
    visual = '<visual><geometry><box size="0.02 0.02 0.02"/></geometry></visual>'
    urdf = USER_URDF.replace('<link name="l1"/>', f'<link name="l1">{inertial}{visual}</link>')
    urdf = urdf.replace('<link name="l2"/>', f'<link name="l2">{inertial}</link>')
    urdf = urdf.replace('<link name="tool"/>', f'<link name="tool">{inertial}{visual}</link>')
    p = load_profile(write_user_profile(tmp_path, urdf=urdf))
    assert check_for_simulation(p) == ['l2']


@pytest.mark.parametrize('name', ['so101', 'open_manipulator_x', 'servo6'])
def test_shipped_profiles_pass_every_check(name: str) -> None:
    assert check_for_simulation(load_profile(name)) == []
