"""The MuJoCo arm simulation (robot_touch.sim.mujoco_arm), driven directly: no ROS."""

from __future__ import annotations

import time

import numpy as np
import pytest
from robot_touch.core.profile import load_profile
from robot_touch.sim.gl import prepare_gl

prepare_gl()  # as the entry points do: the OpenGL backend chosen before mujoco is imported

from robot_touch.sim.mujoco_arm import (  # noqa: E402 (after the backend is chosen)
    MAX_TIMESTEP,
    MujocoArm,
    OffscreenRenderer,
    RealTimeRunner,
    RenderUnavailable,
    SimCommandError,
)

#: The profiles the project ships.
SHIPPED = ['so101', 'open_manipulator_x', 'servo6']

#: Steady-state error allowed while holding against gravity: rad (revolute) or m (prismatic).
HOLD_TOL_RAD = 0.02
HOLD_TOL_M = 0.002


def _profile(name: str):
    return load_profile(name)


def _tolerances(arm: MujocoArm) -> np.ndarray:
    return np.array([HOLD_TOL_M if s.prismatic else HOLD_TOL_RAD for s in arm.specs])


def _inside(arm: MujocoArm, fraction: float) -> np.ndarray:
    """Return a pose at ``fraction`` (0..1) of every joint's range."""
    return arm.lower + fraction * (arm.upper - arm.lower)


# ---------------------------------------------------------------------------- model


@pytest.mark.parametrize('name', SHIPPED, ids=SHIPPED)
def test_model_joints_match_the_profile(name: str) -> None:
    profile = _profile(name)
    arm = MujocoArm(profile)
    m = arm.model
    assert arm.names == tuple(j.name for j in profile.all_joints)
    assert m.nu == len(profile.all_joints)
    for i, spec in enumerate(profile.all_joints):
        joint = m.joint(spec.name)
        expected_type = 2 if spec.prismatic else 3  # mjJNT_SLIDE, mjJNT_HINGE
        assert int(joint.type[0]) == expected_type, spec.name
        assert bool(m.jnt_limited[joint.id])
        np.testing.assert_allclose(m.jnt_range[joint.id], [spec.lower, spec.upper])
        # actuator i drives joint i, with the profile's limits as its command range
        assert int(m.actuator_trnid[i, 0]) == joint.id
        np.testing.assert_allclose(m.actuator_ctrlrange[i], [spec.lower, spec.upper])
    assert m.opt.timestep <= MAX_TIMESTEP
    assert m.opt.gravity[2] == pytest.approx(-9.81)


@pytest.mark.parametrize('name', SHIPPED, ids=SHIPPED)
def test_starts_at_home(name: str) -> None:
    profile = _profile(name)
    arm = MujocoArm(profile)
    home = np.array([j.home for j in profile.all_joints])
    np.testing.assert_allclose(arm.state().positions, home)
    np.testing.assert_allclose(arm.targets(), home)


def test_initial_positions_are_used(so101) -> None:
    start = [0.3, -0.2, 0.4, 0.1, -0.5, 0.6]
    arm = MujocoArm(so101, initial_positions=start)
    np.testing.assert_allclose(arm.state().positions, start)


@pytest.mark.parametrize(
    'kwargs, words',
    [
        ({'timestep': 0.01}, 'timestep must be in'),
        ({'timestep': 0.0}, 'timestep must be in'),
        ({'kp': [10.0, 10.0]}, 'kp must be one number ≥ 0 or 6'),
        ({'kv': [-1.0]}, 'kv must be one number ≥ 0 or 6'),
        (
            {'initial_positions': [0.0, float('nan'), 0, 0, 0, 0]},
            'initial_positions must be 6 finite numbers',
        ),
    ],
    ids=['timestep-too-big', 'timestep-zero', 'kp-wrong-count', 'kv-negative', 'initial-nan'],
)
def test_bad_settings_are_refused_with_a_clear_message(so101, kwargs, words) -> None:
    with pytest.raises(ValueError, match=words):
        MujocoArm(so101, **kwargs)


def test_gain_overrides_reach_the_actuators(so101) -> None:
    arm = MujocoArm(so101, kp=[20.0], kv=[0.5])
    np.testing.assert_allclose(arm.model.actuator_gainprm[:, 0], 20.0)
    np.testing.assert_allclose(arm.model.actuator_biasprm[:, 2], -0.5)


def test_zero_gains_mean_automatic_per_joint(so101) -> None:
    automatic = MujocoArm(so101)
    mixed = MujocoArm(so101, kp=[0.0, 50.0, 0.0, 0.0, 0.0, 0.0])
    assert mixed.gains[1].kp == 50.0
    assert mixed.gains[0] == automatic.gains[0]
    assert MujocoArm(so101, kp=[0.0]).gains == automatic.gains


# ---------------------------------------------------------------------------- physics


#: Targets as fractions of each joint's range, alternating joint by joint so the arm folds
#: back up instead of reaching into the floor.
POSES = {'mid-range': (0.5, 0.5), 'zigzag-a': (0.35, 0.65), 'zigzag-b': (0.65, 0.35)}


def _zigzag(arm: MujocoArm, a: float, b: float) -> np.ndarray:
    fractions = np.array([a if i % 2 == 0 else b for i in range(len(arm.names))])
    return arm.lower + fractions * (arm.upper - arm.lower)


def _touches_floor(arm: MujocoArm, pose: np.ndarray) -> bool:
    import mujoco

    data = mujoco.MjData(arm.model)
    data.qpos[:] = arm.qpos()
    data.qpos[[int(arm.model.joint(n).qposadr[0]) for n in arm.names]] = pose
    mujoco.mj_forward(arm.model, data)
    floor = arm.model.geom('floor').id
    return any(floor in (c.geom1, c.geom2) for c in data.contact[: data.ncon])


@pytest.mark.parametrize('name', SHIPPED, ids=SHIPPED)
@pytest.mark.parametrize('fractions', POSES.values(), ids=POSES.keys())
def test_position_command_is_reached_and_held_under_gravity(
    name: str, fractions: tuple[float, float]
) -> None:
    arm = MujocoArm(_profile(name))
    target = _zigzag(arm, *fractions)
    assert not _touches_floor(arm, target), 'test pose must be reachable (clear of the floor)'
    assert arm.command(target) == []
    arm.run_for(2.0)
    state = arm.state()
    error = np.abs(state.positions - target)
    assert np.all(error < _tolerances(arm)), dict(zip(arm.names, error.round(4)))
    assert np.all(np.abs(state.velocities) < 0.05), 'the arm should be at rest'
    arm.run_for(1.0)  # and it stays there
    assert np.all(np.abs(arm.state().positions - target) < _tolerances(arm))


def test_the_floor_stops_the_arm(so101) -> None:
    arm = MujocoArm(so101)
    into_floor = _inside(arm, 0.8)  # leaning forward with elbow and wrist bent down
    # wrist roll at its zero: the opened jaw (on top at 0) swings down with the wrist
    into_floor[4] = 0.0
    assert _touches_floor(arm, into_floor)
    arm.command(into_floor)
    arm.run_for(2.0)
    lowest = min(
        float(arm.data.geom_xpos[g][2])
        for g in range(arm.model.ngeom)
        if arm.model.geom_bodyid[g] > 0
    )
    assert lowest > -0.01  # geom centres stay above the floor
    assert np.max(np.abs(arm.state().positions - into_floor)) > 0.1  # the target was not reached


def test_gravity_loads_the_shoulder(so101) -> None:
    arm = MujocoArm(so101)
    # upper arm up, forearm horizontal: the shoulder and elbow servos carry the forearm
    arm.command([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    arm.run_for(1.0)
    efforts = dict(zip(arm.names, arm.state().efforts))
    assert abs(efforts['elbow_flex']) > 0.1  # N m: forearm + wrist + gripper ≈ 0.3 kg at ~0.1 m
    assert abs(efforts['shoulder_pan']) < 0.01  # a vertical axis carries no gravity load


def test_weak_servos_sag_under_gravity(so101) -> None:
    # The same pose with servos 100 times softer must droop: gravity really acts.
    arm = MujocoArm(so101, kp=[0.5], kv=[0.05])
    arm.command([0.0] * 6)
    arm.run_for(2.0)
    assert abs(arm.state().positions[2]) > 0.1


def test_arm_joints_only_keep_the_gripper_target(so101) -> None:
    arm = MujocoArm(so101)
    arm.command([0.1, 0.2, 0.3, 0.4, 0.5, 1.0])
    arm.command([0.0, 0.0, 0.0, 0.0, 0.0])
    assert arm.targets()[-1] == pytest.approx(1.0)


def test_commands_outside_the_limits_are_clamped(so101) -> None:
    arm = MujocoArm(so101)
    target = [5.0, -5.0, 0.0, 0.0, 0.0, 9.0]
    clamped = arm.command(target)
    assert clamped == ['shoulder_pan', 'shoulder_lift', 'gripper']
    expected = np.clip(target, arm.lower, arm.upper)
    np.testing.assert_allclose(arm.targets(), expected)
    arm.run_for(2.0)
    pos = arm.state().positions
    assert np.all(pos <= arm.upper + 0.02) and np.all(pos >= arm.lower - 0.02)
    assert np.all(np.abs(pos - expected) < HOLD_TOL_RAD)


BAD_COMMANDS = [
    ([0.1, float('nan'), 0.0, 0.0, 0.0], 'command ignored: not a number for shoulder_lift'),
    ([0.1, 0.0, 0.0, float('inf'), 0.0, 0.0], 'command ignored: not a number for wrist_flex'),
    ([0.1, 0.2], 'command ignored: 2 values, expected 5 or 6'),
    ([0.0] * 7, 'command ignored: 7 values, expected 5 or 6'),
    ([], 'command ignored: 0 values'),
]


@pytest.mark.parametrize(
    'values, message', BAD_COMMANDS, ids=['nan', 'inf', 'too-short', 'too-long', 'empty']
)
def test_bad_commands_are_rejected_and_change_nothing(so101, values, message) -> None:
    arm = MujocoArm(so101)
    good = [0.2, -0.3, 0.4, 0.1, 0.0, 0.5]
    arm.command(good)
    arm.run_for(0.5)
    before_targets, before = arm.targets(), arm.state()
    with pytest.raises(SimCommandError) as err:
        arm.command(values)
    # the text the node logs, so the user sees which joint or which length was wrong
    assert message in str(err.value)
    np.testing.assert_array_equal(arm.targets(), before_targets)
    np.testing.assert_array_equal(arm.state().positions, before.positions)
    arm.run_for(1.0)
    assert np.all(np.abs(arm.state().positions - good) < HOLD_TOL_RAD)


# ---------------------------------------------------------------------------- trajectories


@pytest.mark.timeout(30)
def test_trajectory_is_followed_by_simulated_time(so101) -> None:
    arm = MujocoArm(so101)
    names = ['elbow_flex', 'shoulder_lift']  # a subset, in another order than the profile's
    arm.follow(names, [1.0, 2.0], [[0.6, -0.4], [1.0, -0.8]])
    arm.run_for(0.5)
    # halfway to the first point (linear from home): the servo lags only a little
    pos = dict(zip(arm.names, arm.state().positions))
    assert pos['elbow_flex'] == pytest.approx(0.3, abs=0.05)
    assert pos['shoulder_lift'] == pytest.approx(-0.2, abs=0.05)
    assert arm.following
    arm.run_for(1.0)
    pos = dict(zip(arm.names, arm.state().positions))
    assert pos['elbow_flex'] == pytest.approx(0.8, abs=0.05)
    arm.run_for(1.5)
    assert not arm.following
    pos = dict(zip(arm.names, arm.state().positions))
    assert pos['elbow_flex'] == pytest.approx(1.0, abs=HOLD_TOL_RAD)
    assert pos['shoulder_lift'] == pytest.approx(-0.8, abs=HOLD_TOL_RAD)
    assert pos['shoulder_pan'] == pytest.approx(
        0.0, abs=HOLD_TOL_RAD
    )  # not in the trajectory: untouched


def test_trajectory_start_delay_is_respected(so101) -> None:
    arm = MujocoArm(so101)
    arm.follow(['shoulder_pan'], [0.5], [[1.0]], delay=1.0)
    arm.run_for(0.9)
    assert arm.state().positions[0] == pytest.approx(0.0, abs=0.01)
    arm.run_for(1.5)
    assert arm.state().positions[0] == pytest.approx(1.0, abs=HOLD_TOL_RAD)


def test_a_new_position_command_replaces_the_trajectory(so101) -> None:
    arm = MujocoArm(so101)
    arm.follow(['shoulder_pan'], [2.0], [[1.0]])
    arm.run_for(0.2)
    arm.command([-0.5, 0, 0, 0, 0])
    arm.run_for(2.5)
    assert arm.state().positions[0] == pytest.approx(-0.5, abs=HOLD_TOL_RAD)


def test_empty_trajectory_stops_where_the_arm_is(so101) -> None:
    arm = MujocoArm(so101)
    arm.follow(['shoulder_pan'], [2.0], [[1.5]])
    arm.run_for(1.0)
    arm.follow([], [], [])
    stopped_at = arm.state().positions[0]
    arm.run_for(1.0)
    assert 0.3 < stopped_at < 1.2
    assert arm.state().positions[0] == pytest.approx(stopped_at, abs=0.05)


BAD_TRAJECTORIES = [
    ((['elbow'], [1.0], [[0.1]]), 'unknown joint(s) elbow'),
    ((['elbow_flex', 'elbow_flex'], [1.0], [[0.1, 0.1]]), 'repeated joint names'),
    (
        (['elbow_flex'], [1.0, 1.0], [[0.1], [0.2]]),
        'times from start must be ≥ 0 and strictly increasing',
    ),
    ((['elbow_flex'], [1.0], [[0.1, 0.2]]), 'each of the 1 points needs 1 positions'),
    ((['elbow_flex'], [1.0], [[float('nan')]]), 'not a finite position for elbow_flex'),
    (
        (['elbow_flex'], [1.0, 2.0], [[0.1], [0.2]], [[0.0], []]),
        'velocities must be given for every point',
    ),
]


@pytest.mark.parametrize(
    'args, message',
    BAD_TRAJECTORIES,
    ids=['unknown-joint', 'repeated', 'times', 'width', 'nan', 'ragged-velocities'],
)
def test_bad_trajectories_are_rejected_and_change_nothing(so101, args, message) -> None:
    arm = MujocoArm(so101)
    arm.command([0.2, 0, 0, 0, 0, 0])
    with pytest.raises(SimCommandError, match='trajectory ignored') as err:
        arm.follow(*args)
    assert message in str(err.value)
    assert not arm.following
    assert arm.targets()[0] == pytest.approx(0.2)


def test_trajectory_points_outside_the_limits_are_clamped(so101) -> None:
    arm = MujocoArm(so101)
    assert arm.follow(['gripper'], [0.5], [[5.0]]) == ['gripper']
    arm.run_for(1.5)
    assert arm.state().positions[-1] == pytest.approx(so101.gripper.upper, abs=HOLD_TOL_RAD)


# ---------------------------------------------------------------------------- real time


@pytest.mark.timeout(20)
def test_runner_follows_the_wall_clock_and_stops(so101) -> None:
    arm = MujocoArm(so101)
    runner = RealTimeRunner(arm)
    start = time.monotonic()
    runner.start()
    try:
        deadline = start + 10.0
        while arm.time < 0.3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert arm.time >= 0.3, 'the stepping thread did not advance the simulation'
        stats = runner.stats()
        # real time, not as fast as possible: simulated time never runs ahead of the wall clock
        assert stats.sim_time <= (time.monotonic() - start) + arm.timestep
        assert stats.steps == pytest.approx(stats.sim_time / arm.timestep, abs=1)
        assert runner.running
    finally:
        runner.stop()
    assert not runner.running  # joined: nothing steps the arm any more


class _ManualClock:
    """A wall clock the test moves by hand, to stage a stalled machine."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.timeout(20)
def test_runner_drops_the_backlog_after_a_stall(so101) -> None:
    arm = MujocoArm(so101)
    clock = _ManualClock()
    runner = RealTimeRunner(arm, wake_period=0.001, max_lag=0.1, clock=clock)
    runner.start()
    try:
        clock.now += 1.0  # the process was frozen for a second
        deadline = time.monotonic() + 10.0
        while runner.stats().dropped == 0.0 and time.monotonic() < deadline:
            time.sleep(0.005)
        stats = runner.stats()
    finally:
        runner.stop()
    # one burst of at most max_lag, the rest skipped, instead of a 1 s lurch
    assert stats.sim_time == pytest.approx(0.1, abs=2 * arm.timestep)
    assert stats.dropped == pytest.approx(0.9, abs=2 * arm.timestep)
    assert stats.real_time_factor == pytest.approx(0.1, abs=0.01)


# ---------------------------------------------------------------------------- rendering


@pytest.fixture(scope='module')
def renderer_factory():
    """Provide builds an OffscreenRenderer, or skip when no OpenGL backend works here."""
    made: list[OffscreenRenderer] = []

    def make(arm: MujocoArm) -> OffscreenRenderer:
        try:
            r = OffscreenRenderer(arm.model, width=160, height=120)
        except RenderUnavailable as exc:
            pytest.skip(str(exc))
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.mark.timeout(60)
def test_render_to_png_shows_the_pose(so101, tmp_path, renderer_factory) -> None:
    from PIL import Image

    arm = MujocoArm(so101)
    renderer = renderer_factory(arm)
    home = tmp_path / 'home.png'
    renderer.save_png(arm.qpos(), home)
    arm.command([1.2, -1.0, 1.2, 0.5, 0.0, 1.0])
    arm.run_for(1.5)
    moved = tmp_path / 'sub' / 'moved.png'
    renderer.save_png(arm.qpos(), moved)
    a = np.asarray(Image.open(home))
    b = np.asarray(Image.open(moved))
    assert a.shape == b.shape == (120, 160, 3)
    assert a.std() > 5  # not a blank frame
    assert np.mean(np.any(a != b, axis=2)) > 0.005  # the arm moved in the picture
    assert not list(tmp_path.rglob('.*.tmp'))


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    'backend', ['no-such-backend', 'osmesa'], ids=['unknown-backend', 'osmesa']
)
def test_a_broken_gl_backend_never_stops_the_physics(backend: str) -> None:
    # A separate interpreter: MUJOCO_GL is read once, when mujoco is first imported.
    import os
    import subprocess
    import sys

    script = (
        'from robot_touch.core.profile import load_profile\n'
        'from robot_touch.sim.gl import prepare_gl\n'
        'prepare_gl()\n'
        'from robot_touch.sim.mujoco_arm import MujocoArm, OffscreenRenderer, RenderUnavailable\n'
        "arm = MujocoArm(load_profile('so101'))\n"
        'arm.command([0.3, 0, 0, 0, 0]); arm.run_for(1.0)\n'
        "print('physics', round(float(arm.state().positions[0]), 2))\n"
        'try:\n'
        "    OffscreenRenderer(arm.model, 32, 32).close(); print('rendered')\n"
        'except RenderUnavailable as exc:\n'
        "    print('unavailable:', exc)\n"
    )
    env = {**os.environ, 'MUJOCO_GL': backend}
    result = subprocess.run(
        [sys.executable, '-c', script], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert 'physics 0.3' in result.stdout
    if 'rendered' not in result.stdout:  # osmesa may well be installed elsewhere
        assert (
            f'unavailable: off-screen rendering unavailable: MUJOCO_GL={backend}' in result.stdout
        )
        assert 'try MUJOCO_GL=egl' in result.stdout


def test_importing_the_simulation_has_no_side_effects() -> None:
    """Check that only prepare_gl (an entry point's call) touches MUJOCO_GL, not an import."""
    import os
    import subprocess
    import sys

    script = (
        'import os\n'
        'import robot_touch.sim.mujoco_arm\n'
        "print('after import', os.environ.get('MUJOCO_GL'))\n"
        'from robot_touch.sim.gl import choose_backend\n'
        'env = {}\n'
        'choose_backend(env)\n'
        "print('headless choice', env.get('MUJOCO_GL'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ('MUJOCO_GL', 'DISPLAY')}
    env.pop('WAYLAND_DISPLAY', None)
    result = subprocess.run(
        [sys.executable, '-c', script], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 0, result.stderr
    assert 'after import None' in result.stdout
    assert 'headless choice egl' in result.stdout


# ---------------------------------------------------------------------------- CLI


def test_cli_sim_drives_to_a_pose_and_reports(capsys) -> None:
    from robot_touch.cli.main import main

    assert (
        main(
            ['sim', '--arm', 'so101', '--pose', '0.2, -0.3, 0.5, 0.1, 0, 0.4', '--seconds', '1.5']
        )
        == 0
    )
    out = capsys.readouterr().out
    assert 'so101: 6 joints, time step 2 ms, gravity on' in out
    assert 'steps/s' in out
    row = next(
        line.split()
        for line in out.splitlines()
        if line.strip().startswith('elbow_flex') and '+0.5000' in line
    )
    assert abs(float(row[3])) < HOLD_TOL_RAD  # the error column


@pytest.mark.parametrize(
    'argv, words',
    [
        (['--pose', '1 2'], 'a pose must be home, zero or 6 numbers'),
        (['--size', 'big'], '--size must be WIDTHxHEIGHT'),
        (['--seconds', '0'], '--seconds must be positive'),
    ],
    ids=['short-pose', 'bad-size', 'zero-seconds'],
)
def test_cli_sim_bad_arguments_are_one_line(capsys, argv, words) -> None:
    from robot_touch.cli.main import main

    assert main(['sim', *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]
