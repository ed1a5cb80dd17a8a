"""Kinematics core: FK/IK round trips, limits, bad poses, unreachable targets, continuity."""

from __future__ import annotations

import math
from pathlib import Path
import re

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from robot_touch.core.kinematics import (
    ArmKinematics,
    IKResult,
    pose_from_xyz_quat,
    POSITION_TOLERANCE,
    ROTATION_TOLERANCE,
    validate_pose,
)
from robot_touch.core.profile import load_profile
from robot_touch.errors import PoseError, ProfileError
import yaml

ARMS = ['so101', 'open_manipulator_x', 'servo6']

_cache: dict[str, ArmKinematics] = {}


def kin(name: str) -> ArmKinematics:
    """One ArmKinematics per arm for the whole module (building one parses the URDF)."""
    if name not in _cache:
        _cache[name] = ArmKinematics(load_profile(name))
    return _cache[name]


def random_q(k: ArmKinematics, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(k.profile.lower, k.profile.upper)


def rotation_angle(A: np.ndarray, B: np.ndarray) -> float:
    c = (np.trace(A[:3, :3].T @ B[:3, :3]) - 1.0) / 2.0
    return math.acos(max(-1.0, min(1.0, c)))


def assert_inside_limits(k: ArmKinematics, q: np.ndarray) -> None:
    lo, hi = np.array(k.profile.lower), np.array(k.profile.upper)
    assert np.all(q > lo) and np.all(q < hi), f'q {q} outside ({lo}, {hi})'


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_cold_round_trip_reaches_every_fk_pose(arm: str) -> None:
    k = kin(arm)
    rng = np.random.default_rng(1)
    for _ in range(25):
        target = k.fk(random_q(k, rng))
        r = k.ik(target)
        assert r.ok, (r.reason, r.position_error, r.rotation_error)
        assert r.reason == 'ok' and r.reachable and r.distance == 0.0
        assert_inside_limits(k, r.q)
        reached = k.fk(r.q)
        assert np.linalg.norm(reached[:3, 3] - target[:3, 3]) < POSITION_TOLERANCE
        if k.profile.task_weights[3] > 0:
            # The arm controls roll: the FK pose must be matched as a whole.
            assert rotation_angle(reached, target) < ROTATION_TOLERANCE
        else:
            # No roll joint (OpenMANIPULATOR-X): the approach must match; the tool may be
            # rolled by π (the same direction reached facing the other way).
            assert float(reached[:3, 0] @ target[:3, 0]) > math.cos(ROTATION_TOLERANCE)
        np.testing.assert_allclose(r.pose, reached, atol=1e-12)


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_seeded_solve_of_a_nearby_pose_stays_near_the_seed(arm: str) -> None:
    k = kin(arm)
    rng = np.random.default_rng(2)
    for _ in range(20):
        q = random_q(k, rng) * 0.8
        dq = rng.normal(size=k.dof) * 0.01
        target = k.fk(np.clip(q + dq, k.profile.lower, k.profile.upper))
        r = k.ik(target, seed=q)
        assert r.ok
        assert np.max(np.abs(r.q - q)) < 0.1


def test_solution_is_much_tighter_than_rtb_default_tolerance(so101) -> None:
    k = kin('so101')
    target = k.fk([0.3, 0.2, -0.4, 0.5, 0.1])
    r = k.ik(target)
    # rtb's own default stops at ~1 mm; ours must be far inside the 0.1 mm tolerance.
    assert r.position_error < 2e-5
    assert r.rotation_error < 2e-5


# ---------------------------------------------------------------------------- under-actuated arms


def test_five_dof_arm_reaches_position_pitch_and_roll_of_an_unreachable_yaw() -> None:
    k = kin('so101')
    q = np.array([0.4, 0.3, -0.2, 0.6, 0.5])
    T = k.fk(q)
    # Yaw the target orientation 0.3 rad about its own z: no pan-pitch-roll arm can do that
    # at this position, so the yaw is projected away and the rest must still be met.
    c, s = math.cos(0.3), math.sin(0.3)
    Tw = T.copy()
    Tw[:3, :3] = T[:3, :3] @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    r = k.ik(Tw)
    assert r.ok
    assert np.linalg.norm(r.pose[:3, 3] - T[:3, 3]) < POSITION_TOLERANCE
    # The reached approach is the target's approach projected into the arm's vertical plane
    # (the nearest direction the arm can point), and the roll follows the target's tool z.
    p = T[:3, 3]
    n = np.array([-p[1], p[0], 0.0]) / math.hypot(p[0], p[1])
    x = Tw[:3, 0] - (Tw[:3, 0] @ n) * n
    np.testing.assert_allclose(r.pose[:3, 0], x / np.linalg.norm(x), atol=2e-3)
    z = Tw[:3, 2] - (Tw[:3, 2] @ r.pose[:3, 0]) * r.pose[:3, 0]
    np.testing.assert_allclose(r.pose[:3, 2], z / np.linalg.norm(z), atol=2e-3)


def test_four_dof_arm_reaches_position_and_pitch_only() -> None:
    k = kin('open_manipulator_x')
    q = np.array([0.5, 0.2, 0.3, -0.4])
    T = k.fk(q)
    roll = 0.4
    c, s = math.cos(roll), math.sin(roll)
    Tr = T.copy()
    Tr[:3, :3] = T[:3, :3] @ np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    r = k.ik(Tr)
    assert r.ok, r.reason
    assert np.linalg.norm(r.pose[:3, 3] - T[:3, 3]) < POSITION_TOLERANCE
    # The approach direction (what the arm can control) matches the target's.
    assert float(r.pose[:3, 0] @ T[:3, 0]) > math.cos(ROTATION_TOLERANCE)


def test_four_dof_arm_ignores_the_roll_of_an_upside_down_target() -> None:
    """
    A tool frame rolled by π is the same tool direction for an arm that cannot roll.

    The arm must not try to reach it by leaning back over its top.
    """
    k = kin('open_manipulator_x')
    q = np.array([0.5, 0.2, 0.3, -0.4])
    T = k.fk(q)
    upside_down = T.copy()
    upside_down[:3, :3] = T[:3, :3] @ np.diag([1.0, -1.0, -1.0])
    for seed in (None, q):
        r = k.ik(upside_down, seed=seed)
        assert r.ok, r.reason
        np.testing.assert_allclose(r.q, q, atol=1e-3)


# ---------------------------------------------------------------------------- limits (hypothesis)


finite = st.floats(-1.0, 1.0, allow_nan=False)


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
@settings(max_examples=25, deadline=None)
@given(
    xyz=st.tuples(finite, finite, finite),
    quat=st.tuples(finite, finite, finite, finite).filter(lambda q: sum(v * v for v in q) > 1e-3),
    use_seed=st.booleans(),
)
def test_any_finite_target_gives_joints_inside_the_limits(
    arm: str, xyz, quat, use_seed: bool
) -> None:
    k = kin(arm)
    T = pose_from_xyz_quat(xyz, quat)
    seed = np.array(k.profile.lower) * 0.5 + np.array(k.profile.upper) * 0.5 if use_seed else None
    r = k.ik(T, seed=seed)
    assert isinstance(r, IKResult)
    assert_inside_limits(k, r.q)
    np.testing.assert_allclose(r.pose, k.fk(r.q), atol=1e-12)
    assert r.reason in ('ok', 'unreachable', 'joint_limits', 'no_convergence')
    assert r.ok == (r.reason == 'ok')
    if r.ok:
        assert r.position_error <= POSITION_TOLERANCE and r.distance == 0.0
    else:
        assert r.distance == pytest.approx(np.linalg.norm(r.pose[:3, 3] - T[:3, 3]))


# ---------------------------------------------------------------------------- bad poses

BAD_POSES = {
    'nan': np.where(np.eye(4) == 1, np.nan, 0.0),
    'inf_position': np.array([[1, 0, 0, np.inf], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]]),
    '3x3': np.eye(3),
    'flat_16': list(range(16)),
    'text': 'home',
    'ragged': [[1, 0, 0], [0, 1, 0, 0]],
    'scaled_rotation': np.diag([2.0, 2.0, 2.0, 1.0]),
    'reflection': np.diag([1.0, 1.0, -1.0, 1.0]),
    'bottom_row': np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1.0]]),
    'none': None,
}
MESSAGES = {
    'nan': 'NaN or infinite',
    'inf_position': 'NaN or infinite',
    '3x3': '4x4',
    'flat_16': '4x4',
    'text': '4x4',
    'ragged': '4x4',
    'scaled_rotation': 'not orthonormal',
    'reflection': 'reflection',
    'bottom_row': 'bottom row',
    'none': '4x4',
}


@pytest.mark.parametrize('name', list(BAD_POSES), ids=list(BAD_POSES))
def test_garbage_pose_raises_pose_error_with_a_clear_message(name: str) -> None:
    """The user sees e.g. "pose contains NaN or infinite values", never a numpy traceback."""
    k = kin('so101')
    with pytest.raises(PoseError, match=MESSAGES[name]):
        k.ik(BAD_POSES[name])
    with pytest.raises(PoseError, match=MESSAGES[name]):
        validate_pose(BAD_POSES[name])


def test_small_rotation_drift_is_repaired() -> None:
    T = pose_from_xyz_quat([0.2, 0, 0.2], [0, 0.3826834, 0, 0.9238795])
    T[:3, :3] += 2e-5 * np.random.default_rng(0).normal(size=(3, 3))
    V = validate_pose(T)
    np.testing.assert_allclose(V[:3, :3].T @ V[:3, :3], np.eye(3), atol=1e-12)
    assert np.linalg.det(V[:3, :3]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    'xyz,quat,message',
    [
        ([0, 0, 0], [0, 0, 0, 0], 'quaternion is zero'),
        ([0, math.nan, 0], [0, 0, 0, 1], 'NaN or infinite'),
        ([0, 0, 0], [0, 0, math.inf, 1], 'NaN or infinite'),
        ([0, 0], [0, 0, 0, 1], 'xyz must be 3 numbers'),
        ([0, 0, 0], [0, 0, 1], 'quat 4 numbers'),
        (['a', 0, 0], [0, 0, 0, 1], 'xyz must be 3 numbers'),
    ],
    ids=['zero_quat', 'nan_xyz', 'inf_quat', 'short_xyz', 'short_quat', 'text_xyz'],
)
def test_pose_from_xyz_quat_rejects_bad_input(xyz, quat, message: str) -> None:
    with pytest.raises(PoseError, match=message):
        pose_from_xyz_quat(xyz, quat)


def test_pose_from_xyz_quat_normalises() -> None:
    T = pose_from_xyz_quat([1, 2, 3], [0, 0, 2, 2])  # 90° about z, not unit length
    np.testing.assert_allclose(T[:3, :3], [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(T[:3, 3], [1, 2, 3])


def test_bad_seed_is_a_clear_value_error() -> None:
    k = kin('so101')
    T = k.fk(k.profile.home)
    with pytest.raises(ValueError, match='seed must be 5 numbers'):
        k.ik(T, seed=[0.0, 0.0])
    with pytest.raises(ValueError, match='seed contains NaN'):
        k.ik(T, seed=[0.0, math.nan, 0, 0, 0])
    with pytest.raises(ValueError, match='seed must be 5 numbers'):
        k.ik(T, seed='home')
    with pytest.raises(ValueError, match='max_step must be a positive'):
        k.ik(T, seed=k.profile.home, max_step=-0.1)
    with pytest.raises(ValueError, match='q must be 5 numbers'):
        k.fk([0.0, 0.0, 0.0])


def test_seed_slightly_outside_the_limits_is_clipped_not_refused() -> None:
    k = kin('so101')
    seed = np.array(k.profile.upper) + 1e-3  # a servo reading a hair past its limit
    r = k.ik(k.fk(np.array(k.profile.upper) - 0.05), seed=seed)
    assert r.ok
    assert_inside_limits(k, r.q)


# ---------------------------------------------------------------------------- unreachable


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_unreachable_target_returns_the_nearest_pose_not_an_exception(arm: str) -> None:
    k = kin(arm)
    target = pose_from_xyz_quat([0.9, 0.3, 0.4], [0, 0, 0, 1])
    r = k.ik(target)
    assert not r.ok and not r.reachable
    assert r.reason == 'unreachable'
    assert_inside_limits(k, r.q)
    d = float(np.linalg.norm(r.pose[:3, 3] - target[:3, 3]))
    assert r.distance == pytest.approx(d)
    assert d > 0.9 - k.reach()  # the target lies beyond the reach sphere
    # Nearer than any naive answer: home, or the best of many random configurations.
    home_d = float(np.linalg.norm(k.fk(k.profile.home)[:3, 3] - target[:3, 3]))
    rng = np.random.default_rng(3)
    sampled = min(
        float(np.linalg.norm(k.fk(random_q(k, rng))[:3, 3] - target[:3, 3])) for _ in range(400)
    )
    assert d < home_d
    assert d <= sampled + 1e-4


def test_target_only_reachable_outside_the_limits_says_joint_limits() -> None:
    k = kin('servo6')
    # Base yaw 2.6 rad is beyond the ±π/2 servo travel; the full 6-D pose cannot be met by
    # any other configuration inside the limits.
    q = np.array([2.6, 0.3, 0.2, 0.3, 0.2, 0.1])
    r = k.ik(k.fk(q))
    assert not r.ok and not r.reachable
    assert r.reason == 'joint_limits'
    assert_inside_limits(k, r.q)


def test_tracking_past_the_edge_stays_continuous() -> None:
    """
    Dragging the target out of the workspace: the arm stretches and stops, no flips.

    Near the stretched-elbow singularity a few mm of target need large joint moves, so the
    teleop layer passes max_step (as here); the elbow must never flip to the other side.
    """
    k = kin('so101')
    q = np.array([0.2, 0.8, -0.6, 0.2, 0.0])
    T = k.fk(q)
    direction = T[:3, 3] / np.linalg.norm(T[:3, 3])
    r = k.ik(T, seed=q)
    distances = []
    for _ in range(60):
        T = T.copy()
        T[:3, 3] += 0.004 * direction
        nxt = k.ik(T, seed=r.q, max_step=0.1)
        assert np.max(np.abs(nxt.q - r.q)) <= 0.1 + 1e-12
        assert nxt.q[2] < 0.0  # elbow stays on the seed's side
        if nxt.reason == 'unreachable':
            distances.append(nxt.distance)
        r = nxt
    assert r.reason == 'unreachable' and not r.reachable
    assert len(distances) > 20
    # Once at the edge the arm stays stretched: the distance grows with the target's.
    assert distances[-1] - distances[-21] == pytest.approx(0.08, abs=0.01)


# ---------------------------------------------------------------------------- continuity


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_branch_continuity_along_a_path(arm: str) -> None:
    k = kin(arm)
    q = np.array(k.profile.lower) * 0.2 + np.array(k.profile.upper) * 0.2 + 0.1
    T = k.fk(q)
    r = k.ik(T, seed=q)
    step = np.array([0.6, -0.5, 0.62]) / np.linalg.norm([0.6, -0.5, 0.62]) * 0.001
    for i in range(80):
        T = T.copy()
        T[:3, 3] += step if i < 40 else -step
        nxt = k.ik(T, seed=r.q)
        assert nxt.ok, (i, nxt.reason)
        assert np.max(np.abs(nxt.q - r.q)) < 0.2, f'branch flip at step {i}'
        r = nxt


def test_max_step_caps_the_move_from_the_seed() -> None:
    k = kin('so101')
    seed = np.array(k.profile.home)
    target = k.fk([1.0, 0.5, -0.3, 0.4, 0.2])
    r = k.ik(target, seed=seed, max_step=0.05)
    assert np.max(np.abs(r.q - seed)) <= 0.05 + 1e-12
    assert not r.ok and r.reachable and r.reason == 'no_convergence'
    # Repeated capped calls walk there.
    for _ in range(40):
        r = k.ik(target, seed=r.q, max_step=0.05)
        if r.ok:
            break
    assert r.ok


# ---------------------------------------------------------------------------- Jacobian & dexterity


@pytest.mark.parametrize('arm', ARMS, ids=ARMS)
def test_jacobian_matches_finite_differences_of_fk(arm: str) -> None:
    k = kin(arm)
    q = random_q(k, np.random.default_rng(4)) * 0.5
    J = k.jacobian(q)
    assert J.shape == (6, k.dof)
    h = 1e-7
    for i in range(k.dof):
        dq = np.zeros(k.dof)
        dq[i] = h
        dp = (k.fk(q + dq)[:3, 3] - k.fk(q - dq)[:3, 3]) / (2 * h)
        np.testing.assert_allclose(J[:3, i], dp, atol=1e-6)


def test_condition_rises_as_the_arm_stretches_out() -> None:
    k = kin('so101')
    # With this URDF the upper arm (0.028, 0, 0.1126) and forearm (0.1349, 0, 0.0052) line up
    # at elbow = -(atan2(0.1126, 0.028) - atan2(0.0052, 0.1349)): the elbow singularity.
    straight = -(math.atan2(0.1126, 0.028) - math.atan2(0.0052, 0.1349))
    conds = [k.condition([0.1, 0.3, straight + d, 0.4, 0.2]) for d in (0.8, 0.3, 0.1, 0.01)]
    assert all(a < b for a, b in zip(conds, conds[1:])), conds
    assert conds[-1] > 20 * conds[0]
    manips = [k.manipulability([0.1, 0.3, straight + d, 0.4, 0.2]) for d in (0.8, 0.3, 0.1, 0.01)]
    assert all(a > b for a, b in zip(manips, manips[1:])), manips


@pytest.mark.parametrize(
    'arm,low,high',
    [('so101', 0.40, 0.55), ('open_manipulator_x', 0.38, 0.48), ('servo6', 0.32, 0.42)],
    ids=ARMS,
)
def test_reach_is_the_farthest_tip_distance(arm: str, low: float, high: float) -> None:
    k = kin(arm)
    assert low < k.reach() < high
    rng = np.random.default_rng(5)
    centre = k.fk(np.zeros(k.dof))  # any pose; only the bound matters below
    assert centre.shape == (4, 4)
    for _ in range(200):
        p = k.fk(random_q(k, rng))[:3, 3]
        assert np.linalg.norm(p - k.reach_centre()) <= k.reach() + 1e-9


# ---------------------------------------------------------------------------- profile errors


def test_urdf_rtb_cannot_read_is_a_profile_error_naming_the_urdf(tmp_path: Path) -> None:
    """
    A mesh file that does not exist.

    The profile loads (names and limits are fine), but roboticstoolbox refuses the geometry; the
    user sees the URDF's path, not an rtb trace.
    """
    shipped = load_profile('so101')
    xml = re.sub(
        r'<box size="0.09 0.07 0.09"/>',
        '<mesh filename="missing_base.stl"/>',
        shipped.urdf_xml(),
        count=1,
    )
    assert 'missing_base.stl' in xml
    urdf = tmp_path / 'mesh_arm.urdf'
    urdf.write_text(xml)
    data = yaml.safe_load(shipped.path.read_text())
    data['urdf'] = str(urdf)
    path = tmp_path / 'mesh_arm.yaml'
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    profile = load_profile(path)
    with pytest.raises(ProfileError, match=r'mesh_arm.urdf: roboticstoolbox cannot read it'):
        ArmKinematics(profile)


def test_profile_whose_joint_order_differs_from_the_chain_is_rejected(tmp_path: Path) -> None:
    shipped = load_profile('so101')
    data = yaml.safe_load(shipped.path.read_text())
    names = list(data['joints'])
    data['joints'] = {n: data['joints'][n] for n in [names[1], names[0], *names[2:]]}
    data['urdf'] = str(shipped.urdf_path)
    path = tmp_path / 'swapped.yaml'
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(
        ProfileError, match=r'swapped.yaml: joints: the chain base_link → tcp .* same order'
    ):
        ArmKinematics(load_profile(path))


def test_hot_path_result_equals_the_dataclass_constructor(kin: ArmKinematics) -> None:
    """
    Check that an IKResult built through its ``__dict__`` is the one ``IKResult(...)`` builds.

    The IK hot path skips the frozen dataclass's ``__init__`` (result.ik_result); a change to
    IKResult (slots, a new field, a validator) must not pass that by unnoticed.
    """
    import dataclasses
    import time

    from robot_touch.core.kinematics.result import ik_result

    q = np.array(kin.profile.home, dtype=float)
    pose = kin.fk(q)
    t0 = time.perf_counter()
    fast = ik_result(
        q,
        ok=True,
        reachable=True,
        position_error=1e-6,
        rotation_error=2e-6,
        distance=0.0,
        reason='ok',
        t0=t0,
        pose=pose,
    )
    values = {f.name: getattr(fast, f.name) for f in dataclasses.fields(IKResult)}
    assert set(vars(fast)) == set(values), 'ik_result sets other attributes than the fields'
    slow = IKResult(**values)
    for name, value in values.items():
        other = getattr(slow, name)
        assert (np.array_equal(value, other) if isinstance(value, np.ndarray) else value == other)
    assert fast.solve_time_us >= 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.ok = False  # type: ignore[misc]
    assert dataclasses.replace(fast, ok=False).ok is False
