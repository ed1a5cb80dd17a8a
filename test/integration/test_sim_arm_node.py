"""
sim_arm as a real child process, driven over DDS from this test process.

One simulated SO-101 runs in a namespace for the whole module; each test sets its own
target, so their order does not matter.
"""

from __future__ import annotations

from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

from builtin_interfaces.msg import Duration as DurationMsg
import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from robot_touch.core.profile import load_profile
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray
from support.waiting import wait_for
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

pytestmark = pytest.mark.ros

NAMESPACE = '/sim_test'  # the node's topic names are relative: they must follow the namespace
NAMES = [j.name for j in load_profile('so101').all_joints]
TOLERANCE = 0.02  # rad, once settled (the servo model holds within ~0.004 rad)
STARTUP = (
    30.0  # s for the child to import rclpy + MuJoCo and appear on the graph, on a busy machine
)


class Probe:
    """The test's side of the graph: publishes commands and trajectories, records joint_states."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('sim_arm_probe', namespace=NAMESPACE, context=self.context)
        self.lock = threading.Lock()
        self.states: list[JointState] = []
        self.node.create_subscription(JointState, 'joint_states', self._on_state, 100)
        self.commands = self.node.create_publisher(
            Float64MultiArray, 'forward_position_controller/commands', 10
        )
        self.trajectories = self.node.create_publisher(
            JointTrajectory, 'arm_controller/joint_trajectory', 10
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_state(self, msg: JointState) -> None:
        with self.lock:
            self.states.append(msg)
            del self.states[:-1000]  # 10 s at 100 Hz

    def latest(self) -> JointState | None:
        with self.lock:
            return self.states[-1] if self.states else None

    def history(self) -> list[JointState]:
        with self.lock:
            return list(self.states)

    def now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(timeout=5)


def _stamp(msg: JointState) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _position(msg: JointState, joint: str) -> float:
    return msg.position[list(msg.name).index(joint)]


def _settled_at(probe: Probe, target: list[float]) -> JointState | None:
    msg = probe.latest()
    if msg is None or len(msg.position) != len(target):
        return None
    return msg if all(abs(p - t) < TOLERANCE for p, t in zip(msg.position, target)) else None


@pytest.fixture(scope='module')
def sim(tmp_path_factory):
    """Provide a running sim_arm child (log file path) and the probe talking to it."""
    folder = tmp_path_factory.mktemp('sim_arm')
    log_path = folder / 'sim_arm.log'
    log = open(log_path, 'w')
    params = [
        'arm:=so101',
        f'render_png:={folder / "arm.png"}',
        'render_period:=0.3',
        'render_width:=160',
        'render_height:=120',
    ]
    child = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'robot_touch.nodes.sim_arm',
            '--ros-args',
            '-r',
            f'__ns:={NAMESPACE}',
        ]
        + [arg for p in params for arg in ('-p', p)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    probe = Probe()
    try:
        yield probe, child, log_path
    finally:
        probe.close()
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=5)
        log.close()


def _log(log_path: Path) -> str:
    return log_path.read_text(encoding='utf-8', errors='replace')


def _wait_for_sim(sim) -> Probe:
    probe, child, log_path = sim
    wait_for(
        lambda: probe.latest() is not None or child.poll() is not None,
        STARTUP,
        'the first joint_states from sim_arm',
    )
    assert child.poll() is None, f'sim_arm exited:\n{_log(log_path)}'
    return probe


@pytest.mark.timeout(90)
def test_joint_states_converge_to_a_forward_command(sim) -> None:
    probe = _wait_for_sim(sim)
    first = probe.latest()
    assert list(first.name) == NAMES
    assert len(first.velocity) == len(first.effort) == len(NAMES)
    target = [0.4, -0.3, 0.7, 0.3, -0.5, 0.8]

    def settled() -> JointState | None:
        # a teleop-like stream: repeat the command until the arm is there
        probe.commands.publish(Float64MultiArray(data=target))
        return _settled_at(probe, target)

    msg = wait_for(settled, 20.0, f'joint_states within {TOLERANCE} rad of {target}')
    # holding the forearm out against gravity takes torque at the shoulder and elbow
    assert abs(msg.effort[NAMES.index('elbow_flex')]) > 0.05
    assert abs(_stamp(msg) - probe.now()) < 2.0, 'joint_states are stamped with the node clock'


@pytest.mark.timeout(90)
def test_joint_trajectory_is_followed_by_time(sim) -> None:
    probe = _wait_for_sim(sim)
    start_pose = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    wait_for(
        lambda: (
            probe.commands.publish(Float64MultiArray(data=start_pose))
            or _settled_at(probe, start_pose)
        ),
        20.0,
        'the arm at the start pose',
    )
    traj = JointTrajectory()
    traj.joint_names = ['shoulder_pan', 'elbow_flex']
    traj.points = [
        JointTrajectoryPoint(positions=[0.6, 0.4], time_from_start=DurationMsg(sec=1)),
        JointTrajectoryPoint(positions=[0.9, 0.8], time_from_start=DurationMsg(sec=2)),
    ]
    # A start stamp in the near future makes the timing independent of the delivery delay.
    start = probe.now() + 0.5
    traj.header.stamp.sec = int(start)
    traj.header.stamp.nanosec = int((start - int(start)) * 1e9)
    probe.trajectories.publish(traj)

    wait_for(lambda: probe.now() > start + 2.6, 10.0, 'the end of the trajectory')
    history = [m for m in probe.history() if _stamp(m) >= start - 0.3]

    def at(t: float) -> JointState:
        return min(history, key=lambda m: abs(_stamp(m) - (start + t)))

    # before the start stamp the arm waits; then it moves linearly, point by point
    assert _position(at(-0.2), 'shoulder_pan') == pytest.approx(0.0, abs=TOLERANCE)
    for t, pan, elbow in ((0.5, 0.3, 0.2), (1.0, 0.6, 0.4), (1.5, 0.75, 0.6)):
        msg = at(t)
        # 0.1 rad ≈ 0.15 s of motion: servo lag plus a busy machine's scheduling
        assert _position(msg, 'shoulder_pan') == pytest.approx(pan, abs=0.1), f't={t}'
        assert _position(msg, 'elbow_flex') == pytest.approx(elbow, abs=0.1), f't={t}'
    end = probe.latest()
    assert _position(end, 'shoulder_pan') == pytest.approx(0.9, abs=TOLERANCE)
    assert _position(end, 'elbow_flex') == pytest.approx(0.8, abs=TOLERANCE)
    assert _position(end, 'shoulder_lift') == pytest.approx(
        0.0, abs=TOLERANCE
    )  # not in the trajectory


@pytest.mark.timeout(90)
def test_bad_commands_are_logged_and_ignored(sim) -> None:
    probe = _wait_for_sim(sim)
    _, _, log_path = sim
    target = [-0.3, 0.2, 0.3, -0.2, 0.4, 0.2]
    wait_for(
        lambda: (
            probe.commands.publish(Float64MultiArray(data=target)) or _settled_at(probe, target)
        ),
        20.0,
        'the arm at the target',
    )
    bad = [[0.0, float('nan'), 0.0, 0.0, 0.0], [1.0, 1.0]]
    sent = 0

    def both_rejections_logged() -> str | None:
        # alternate, one per poll: the command subscription keeps only the newest message
        nonlocal sent
        probe.commands.publish(Float64MultiArray(data=bad[sent % 2]))
        sent += 1
        text = _log(log_path)
        return text if 'values, expected 5 or 6' in text and 'not a number for' in text else None

    text = wait_for(both_rejections_logged, 10.0, 'the rejection warnings in the sim_arm log')
    assert (
        'command ignored: not a number for shoulder_lift; the arm keeps its previous target'
        in text
    )
    assert 'command ignored: 2 values, expected 5 or 6' in text
    # a flood of the same bad command (50 Hz for 0.5 s) is throttled to a line every 2 s
    flood_end = time.monotonic() + 0.5
    while time.monotonic() < flood_end:
        probe.commands.publish(Float64MultiArray(data=bad[0]))
        time.sleep(0.02)
    assert _log(log_path).count('not a number for shoulder_lift') <= 2
    assert _settled_at(probe, target), 'a bad command must not move the arm'


@pytest.mark.timeout(90)
def test_free_drive_makes_a_joint_passive_and_holds_it_where_it_fell(sim) -> None:
    from std_srvs.srv import SetBool

    probe = _wait_for_sim(sim)
    target = [0.0, -1.0, 1.0, 0.0, 0.0, 0.0]  # the upper arm raised: gravity pulls it down

    def raised() -> JointState | None:
        probe.commands.publish(Float64MultiArray(data=target))
        return _settled_at(probe, target)

    wait_for(raised, 20.0, 'the arm raised')
    client = probe.node.create_client(SetBool, 'torque/shoulder_lift')

    def call(on: bool) -> SetBool.Response:
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(SetBool.Request(data=on))
        wait_for(future.done, 10.0, "the torque service's answer")
        return future.result()

    reply = call(False)
    assert reply.success and reply.message == 'shoulder_lift: torque released (actuator passive)'
    wait_for(lambda: abs(_position(probe.latest(), 'shoulder_lift') + 1.0) > 0.2, 5.0, 'it falls')
    msg = probe.latest()
    assert msg.effort[NAMES.index('shoulder_lift')] == 0.0
    time.sleep(1.0)  # it comes to rest (on its limit)
    assert call(True).success
    fell = _position(probe.latest(), 'shoulder_lift')
    time.sleep(0.5)
    assert _position(probe.latest(), 'shoulder_lift') == pytest.approx(fell, abs=TOLERANCE)
    probe.node.destroy_client(client)


@pytest.mark.timeout(60)
def test_render_png_is_written_or_its_absence_explained(sim) -> None:
    _wait_for_sim(sim)
    _, _, log_path = sim
    png = log_path.parent / 'arm.png'
    outcome = wait_for(
        lambda: (
            'written'
            if png.is_file()
            else 'explained'
            if 'rendering unavailable' in _log(log_path)
            else None
        ),
        30.0,
        f'{png} or a log line saying why there is no rendering',
    )
    if outcome == 'explained':
        assert 'simulating without rendering' in _log(log_path)
        pytest.skip('no OpenGL backend here; the node said so and kept simulating')
    from PIL import Image

    with Image.open(png) as image:
        assert image.size == (160, 120)


@pytest.mark.timeout(60)
def test_unknown_arm_is_one_clear_line() -> None:
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'robot_touch.nodes.sim_arm',
            '--ros-args',
            '-p',
            'arm:=no_such_arm',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        'sim_arm: error: no_such_arm: unknown arm profile'
    ), result.stderr
