"""Workspace projections, the URDF chain and the reachable region."""

from __future__ import annotations

import math
import warnings

from hypothesis import given
from hypothesis import strategies as st
import numpy as np
import pytest
from robot_touch.core.workspace_view import (
    Chain,
    matrix_to_quaternion,
    Pose,
    project_side,
    project_top,
    reachable_regions,
    ReachableRegion,
    rot_x,
    rot_z,
    ViewMapping,
)
from robot_touch.errors import ProfileError


@pytest.fixture(scope='module')
def chain(so101):
    return Chain.from_profile(so101)


def test_chain_has_the_profile_joints(chain, so101):
    assert chain.joint_names == so101.joint_names


def test_chain_home_skeleton_matches_urdf_offsets(chain):
    pts = chain.points({})
    # base, pan, lift, elbow, wrist flex, wrist roll, tcp: offsets summed from the xacro.
    assert pts[-1] == pytest.approx(
        [0.0304 + 0.028 + 0.1349 + 0.0611 + 0.0981, 0, 0.0949 + 0.0542 + 0.1126 + 0.0052]
    )


def _pan_sign(chain) -> float:
    """
    +1 when shoulder_pan turns counter-clockwise seen from above.

    The so101 turns the other way (so101_new_calib's convention, shared with LeRobot).
    """
    pan = next(j for j in chain.joints if j.name == 'shoulder_pan')
    return float(np.sign(pan.axis[2]))


def test_pan_turns_the_arm_about_z(chain):
    home = chain.tip({})[:3, 3]
    turned = chain.tip({'shoulder_pan': _pan_sign(chain) * math.pi / 2})[:3, 3]
    assert turned == pytest.approx([-home[1], home[0], home[2]], abs=1e-9)
    assert _pan_sign(chain) == -1.0  # positive pan turns the so101 clockwise


def test_chain_agrees_with_roboticstoolbox(chain, so101, tmp_path):
    rtb = pytest.importorskip('roboticstoolbox')
    urdf = tmp_path / 'so101.urdf'
    urdf.write_text(so101.urdf_xml())
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # Robot.URDF is deprecated in rtb 1.5
        robot = rtb.Robot.URDF(str(urdf))
    q = np.array([0.3, -0.5, 0.7, 0.2, -1.0])
    qfull = np.zeros(robot.n)
    index = {link._joint_name: link.jindex for link in robot.links if link.isjoint}
    for name, v in zip(so101.joint_names, q):
        qfull[index[name]] = v
    T = robot.fkine(qfull, end=so101.tip_link, start=so101.base_link).A
    assert chain.tip(q) == pytest.approx(T, abs=1e-6)


def test_bad_chain_is_a_profile_error(so101):
    with pytest.raises(ProfileError, match='not below'):
        Chain.from_urdf(so101.urdf_xml(), 'tcp', 'base_link')


def test_projections():
    p = np.array([[1.0, 2.0, 3.0]])
    assert project_top(p)[0] == pytest.approx([1, 2])
    assert project_side(p, math.pi / 2)[0] == pytest.approx([2, 3])
    assert project_side(p, math.pi)[0] == pytest.approx([-1, 3])


@given(
    st.floats(-1, 1),
    st.floats(-1, 1),
    st.floats(10, 5000),
    st.floats(-500, 500),
    st.floats(-500, 500),
)
def test_mapping_round_trip(u, v, scale, ox, oy):
    m = ViewMapping(scale, (ox, oy))
    assert m.to_m(*m.to_px(u, v)) == pytest.approx((u, v), abs=1e-9)


def test_fit_keeps_bounds_inside_with_margin():
    m = ViewMapping.fit((-0.4, -0.2, 0.4, 0.6), 800, 400, margin=0.1)
    for u, v in [(-0.4, -0.2), (0.4, 0.6)]:
        x, y = m.to_px(u, v)
        assert 0 <= x <= 800 and 40 - 1e-6 <= y <= 360 + 1e-6
    # Equal scale on both axes: a circle stays a circle.
    assert m.to_px(0.1, 0)[0] - m.to_px(0, 0)[0] == pytest.approx(
        m.to_px(0, 0.1)[1] - m.to_px(0, 0)[1]
    )


def test_reachable_regions_contain_fk_samples_and_not_far_points(chain, so101):
    top, side = reachable_regions(chain, so101.lower, so101.upper)
    rng = np.random.default_rng(7)
    q = so101.lower + rng.random((400, 5)) * (np.array(so101.upper) - so101.lower)
    inside_top = inside_side = 0
    for qi in q:
        tip = chain.tip(qi)[:3, 3]
        inside_top += top.contains(tip[0], tip[1], margin=0.02)
        # Side view: reach measured in the plane of the pan joint.
        azimuth = _pan_sign(chain) * qi[0]
        reach = tip[0] * math.cos(azimuth) + tip[1] * math.sin(azimuth)
        inside_side += side.contains(reach, tip[2], margin=0.02)
    # A polar band is an outline for the eye, not an exact set: nearly all samples fall in it.
    assert inside_top >= 0.97 * len(q) and inside_side >= 0.97 * len(q)
    assert not top.contains(1.0, 0.0)
    assert not side.contains(0.0, 1.5)
    assert len(top.quads()) > 10


def test_region_from_points_band():
    ang = np.linspace(-math.pi, math.pi, 400, endpoint=False)
    pts = np.concatenate([np.stack([r * np.cos(ang), r * np.sin(ang)], 1) for r in (1.0, 2.0)])
    reg = ReachableRegion.from_points(pts, (0.0, 0.0), bins=36)
    assert reg.contains(1.5, 0.0) and not reg.contains(0.5, 0.0) and not reg.contains(2.5, 0.0)


@given(st.floats(-math.pi, math.pi), st.floats(-math.pi, math.pi))
def test_quaternion_round_trip(a, b):
    R = rot_z(a) @ rot_x(b)
    x, y, z, w = matrix_to_quaternion(R)
    assert w >= 0 and math.isclose(x * x + y * y + z * z + w * w, 1.0, rel_tol=1e-9)
    # Rebuild the matrix from the quaternion.
    Rq = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    assert Rq == pytest.approx(R, abs=1e-9)


def test_pose_matrix_round_trip():
    T = np.eye(4)
    T[:3, :3] = rot_z(0.3)
    T[:3, 3] = [0.1, 0.2, 0.3]
    assert Pose.from_matrix(T).matrix() == pytest.approx(T)
    assert Pose.from_matrix(T).azimuth == pytest.approx(math.atan2(0.2, 0.1))
