"""Arm profiles: every shipped one loads; a user's own works; a malformed one: ONE clear error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from robot_touch.core.profile import available_profiles, load_profile
from robot_touch.errors import ProfileError
from support.profiles import user_profile_data, USER_URDF, write_user_profile

SHIPPED = ['open_manipulator_x', 'servo6', 'so101']

EXPECTED = {
    # name: (dof, protocol, baudrate, servo ids arm + gripper, units_per_rad of joint 1)
    'so101': (5, 'feetech_sts', 1_000_000, [1, 2, 3, 4, 5, 6], 651.8986),
    'open_manipulator_x': (4, 'dynamixel_p2', 1_000_000, [11, 12, 13, 14, 15], 651.8986),
    'servo6': (6, 'ssc32', 115_200, [0, 1, 2, 3, 4, 5, 6], 636.6198),
}


def test_the_shipped_profiles_are_listed() -> None:
    assert available_profiles() == SHIPPED


@pytest.mark.parametrize('name', SHIPPED, ids=SHIPPED)
def test_shipped_profile_loads_with_its_published_specs(name: str) -> None:
    p = load_profile(name)
    dof, protocol, baud, ids, upr = EXPECTED[name]
    assert p.name == name and p.dof == dof
    assert p.protocol == protocol and p.baudrate == baud
    assert [j.servo_id for j in p.all_joints] == ids
    assert p.joints[0].calibration.units_per_rad == pytest.approx(upr, rel=1e-6)
    assert p.gripper is not None
    for j in p.all_joints:
        assert j.lower < j.home < j.upper or j.lower <= j.home <= j.upper
        assert j.velocity > 0 and j.acceleration > 0 and j.jerk > 0
    # The task weights can be met by the joints (checked on load, asserted for the record).
    assert sum(1 for w in p.task_weights if w > 0) <= p.dof


def test_calibration_round_trips_for_the_pwm_arm() -> None:
    """servo6: 1500 µs at 0, 500..2500 µs over ±π/2 (180° of servo travel)."""
    cal = load_profile('servo6').joint('base_yaw').calibration
    assert cal.to_raw(0.0) == pytest.approx(1500)
    assert cal.to_raw(math.pi / 2) == pytest.approx(2500, abs=0.01)
    assert cal.to_raw(-math.pi / 2) == pytest.approx(500, abs=0.01)
    assert cal.to_joint(cal.to_raw(0.3)) == pytest.approx(0.3)


def test_open_manipulator_gripper_is_prismatic_in_metres() -> None:
    g = load_profile('open_manipulator_x').gripper
    assert g is not None and g.prismatic
    assert (g.lower, g.upper) == (-0.010, 0.019)
    # Fully open is well inside the servo's 0..4095 range with the documented ratio.
    assert 0 <= g.calibration.to_raw(g.lower) < g.calibration.to_raw(g.upper) <= 4095


# ---------------------------------------------------------------------------- a user's own arm


def test_users_own_yaml_and_urdf_by_path_work_end_to_end(tmp_path: Path) -> None:
    from robot_touch.core.kinematics import ArmKinematics

    p = load_profile(write_user_profile(tmp_path))
    assert p.name == 'my_arm' and p.joint_names == ['yaw', 'pitch', 'reach']
    assert p.joint('reach').prismatic and p.home == [0.0, 0.0, 0.05]
    k = ArmKinematics(p)
    target = k.fk([0.5, 0.3, 0.04])
    r = k.ik(target)  # 3 joints, position only (the weights say so)
    assert r.ok
    np.testing.assert_allclose(r.pose[:3, 3], target[:3, 3], atol=1e-4)


# ---------------------------------------------------------------------------- malformed profiles


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value

    return edit


def _delete(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def edit(d: dict[str, Any]) -> None:
        for key in path[:-1]:
            d = d[key]
        del d[path[-1]]

    return edit


# id: (edit of the YAML data, field the error names, words of the message)
MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    'missing_baudrate': (_delete(['baudrate']), 'baudrate', 'missing'),
    'missing_joint_upper': (
        _delete(['joints', 'pitch', 'upper']),
        'joints.pitch.upper',
        'missing',
    ),
    'baudrate_text': (_set(['baudrate'], 'fast'), 'baudrate', 'must be an integer'),
    'lower_text': (
        _set(['joints', 'yaw', 'lower'], 'low'),
        'joints.yaw.lower',
        'must be a finite number',
    ),
    'lower_ge_upper': (
        _set(['joints', 'yaw', 'lower'], 2.0),
        'joints.yaw.upper',
        'must be greater than lower',
    ),
    'duplicate_servo_id': (
        _set(['joints', 'pitch', 'servo_id'], 1),
        'joints',
        'servo ids must be unique',
    ),
    'bad_direction': (
        _set(['joints', 'yaw', 'calibration', 'direction'], 2),
        'joints.yaw.calibration.direction',
        'must be 1 or -1',
    ),
    'home_outside': (_set(['joints', 'yaw', 'home'], 3.0), 'joints.yaw.home', 'outside'),
    'weights_too_many': (
        _set(['ik', 'task_weights'], [1, 1, 1, 1, 0, 0]),
        'ik.task_weights',
        'cannot control 4 task axes',
    ),
    'joint_not_in_urdf': (
        _set(
            ['joints', 'roll'],
            {
                'servo_id': 9,
                'lower': -1,
                'upper': 1,
                'velocity': 1,
                'acceleration': 1,
                'calibration': {'zero': 0, 'units_per_rad': 1},
            },
        ),
        'joints.roll',
        'no joint of that name in my_arm.urdf',
    ),
    'tip_not_in_urdf': (
        _set(['tip_link'], 'flange'),
        'tip_link',
        "link 'flange' is not in my_arm.urdf",
    ),
    'wider_than_urdf': (
        _set(['joints', 'yaw', 'upper'], 2.5),
        'joints.yaw.upper',
        'above the URDF limit',
    ),
    'urdf_file_missing': (_set(['urdf'], 'nowhere.urdf'), 'urdf', 'file not found'),
}


@pytest.mark.parametrize('case', list(MALFORMED), ids=list(MALFORMED))
def test_malformed_profile_gives_one_error_naming_file_and_field(
    tmp_path: Path, case: str
) -> None:
    """The user sees e.g. ``…/my_arm.yaml: joints.yaw.upper: must be greater than lower``."""
    edit, field, words = MALFORMED[case]
    data = user_profile_data()
    edit(data)
    path = write_user_profile(tmp_path, data)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    err = info.value
    assert err.path == str(path)
    assert err.field == field
    assert words in err.message
    assert str(err).startswith(f'{path}: {field}: ')


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / 'broken.yaml'
    path.write_text('name: x\njoints: [unclosed\n  baudrate: 1\n')
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.path == str(path)
    assert info.value.field.startswith('line ')
    assert 'not valid YAML' in info.value.message


def test_broken_urdf_xml_names_the_urdf_file(tmp_path: Path) -> None:
    path = write_user_profile(tmp_path, urdf=USER_URDF.replace('</robot>', '<robot>'))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.path.endswith('my_arm.urdf')
    assert 'not valid XML' in info.value.message


def test_urdf_missing_a_profile_joint_names_the_joint(tmp_path: Path) -> None:
    urdf = USER_URDF.replace('name="pitch"', 'name="tilt"')
    path = write_user_profile(tmp_path, urdf=urdf)
    with pytest.raises(
        ProfileError, match=r'my_arm.yaml: joints.pitch: no joint of that name in my_arm.urdf'
    ):
        load_profile(path)


def test_unknown_profile_name_lists_the_known_ones() -> None:
    with pytest.raises(
        ProfileError, match='unknown arm profile; known: open_manipulator_x, servo6, so101'
    ):
        load_profile('ur5')


def test_profile_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / 'list.yaml'
    path.write_text('- a\n- b\n')
    with pytest.raises(ProfileError, match='a profile must be a YAML mapping'):
        load_profile(path)
