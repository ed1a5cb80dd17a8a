"""
The gateway in the real graph (`robot-touch run --no-ui --remote`), reached over TLS.

The clients are roslibpy and the ``websockets`` client: the arm moves for the holder of the
control lease only, refusals say which rule refused, e-stop works for anyone, and the arm
holds when its operator's link drops or goes silent. The virtual arm's true servo state is the
judge.

The tests share one graph and run in order (the lease and teleop's enable state carry over);
the tablet app's test is last because it stops the gateway.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import socket
import threading
import time

import numpy as np
import pytest
from support.remote import moved, RawClient, RemoteGraph, settle, TabletProcess
from support.waiting import wait_for, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(240)]

HERE = Path(__file__).resolve().parent


def url(graph: RemoteGraph, host: str = '[::1]') -> str:
    return f'wss://{host}:{graph.port}'


def client(graph: RemoteGraph, take: bool = False) -> RawClient:
    c = RawClient(url(graph), graph.cert_path)
    c.auth(graph.token)
    if take:
        answer = c.call('gateway/take_control')
        assert answer and answer['result'], answer
    return c


def tip(joints: dict[str, float]) -> np.ndarray:
    from robot_touch.core.profile import load_profile
    from robot_touch.core.workspace_view import Chain

    profile = load_profile('so101')
    return Chain.from_profile(profile).tip({n: joints[n] for n in profile.joint_names})[:3, 3]


def pose_msg(position: np.ndarray) -> dict:
    x, y, z = (float(v) for v in position)
    return {
        'header': {'frame_id': 'base_link'},
        'pose': {
            'position': {'x': x, 'y': y, 'z': z},
            'orientation': {'x': 0.0, 'y': 0.0, 'z': 0.0, 'w': 1.0},
        },
    }


def test_the_gateway_publishes_before_any_client_connects(graph: RemoteGraph) -> None:
    """
    Check that the topics a client may publish on have the gateway's publisher from the start.

    Made at a client's first message instead, the publisher could send that message before DDS
    matched it with teleop's subscription: one target_pose, lost. First in this module, so no
    client has published yet.
    """
    from support.launch_ros import ros_node

    topics = ['target_pose', 'jog', 'joint_jog', 'joint_target', 'gripper']
    with ros_node('publisher_probe') as node:
        ns = f'/{graph.namespace}'

        def counts() -> dict[str, int]:
            return {t: node.count_publishers(f'{ns}/{t}') for t in topics}

        # teleop publishes none of them; the gateway is the only publisher of each
        assert wait_until(lambda: all(n == 1 for n in counts().values()), 15), counts()


def test_roslibpy_drives_the_arm_through_the_gateway(
    graph: RemoteGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Check that stock roslibpy (asyncio transport) connects and authenticates.

    It trusts the gateway's certificate the standard way (SSL_CERT_FILE; the certificate names
    localhost) and authenticates with its own rosauth call.
    """
    from robot_touch.gateway.auth import auth_request
    import roslibpy

    monkeypatch.setenv('SSL_CERT_FILE', str(graph.cert_path))
    ros = roslibpy.Ros(f'wss://localhost:{graph.port}', transport='asyncio')
    a = auth_request(graph.token, 'roslibpy', 'localhost', time.time())
    ros.authenticate(a['mac'], a['client'], a['dest'], a['rand'], a['t'], a['level'], a['end'])
    ros.run(timeout=20)
    try:
        states: list = []
        roslibpy.Topic(
            ros, 'joint_states', 'sensor_msgs/msg/JointState', throttle_rate=50
        ).subscribe(states.append)
        wait_for(lambda: len(states) >= 3, 10, 'joint_states over the gateway')
        assert states[-1]['name'][:5] == [
            'shoulder_pan',
            'shoulder_lift',
            'elbow_flex',
            'wrist_flex',
            'wrist_roll',
        ]

        def call(name: str, kind: str, args: dict) -> dict:
            return roslibpy.Service(ros, name, kind).call(
                roslibpy.ServiceRequest(args), timeout=10
            )

        assert call('gateway/take_control', 'std_srvs/srv/Trigger', {})['success']
        assert call('teleop/enable', 'std_srvs/srv/SetBool', {'data': True})['success']
        start = graph.true_joints()
        goal = {
            'shoulder_pan': 0.3,
            'shoulder_lift': 0.3,
            'elbow_flex': -0.3,
            'wrist_flex': 0.2,
            'wrist_roll': 0.0,
        }
        target = tip(goal)
        roslibpy.Topic(ros, 'target_pose', 'geometry_msgs/msg/PoseStamped').publish(
            roslibpy.Message(pose_msg(target))
        )
        wait_for(lambda: moved(start, graph.true_joints()) > 0.05, 10, 'the virtual arm moving')
        arrived = settle(graph, 20)
        assert np.linalg.norm(tip(arrived) - target) < 0.01, (tip(arrived), target)

        # E-stop latches (teleop says so), then Home moves the arm back after the release.
        assert call('teleop/estop', 'std_srvs/srv/SetBool', {'data': True})['success']
        status: list = []
        roslibpy.Topic(ros, 'teleop/status', 'diagnostic_msgs/msg/DiagnosticStatus').subscribe(
            status.append
        )
        wait_for(lambda: any(s['message'] == 'estop' for s in status), 5, 'teleop e-stopped')
        assert call('teleop/estop', 'std_srvs/srv/SetBool', {'data': False})['success']
        # After the release teleop re-latches to the measured joints (a short ramp) and says
        # "try again in a moment" to a Home meanwhile; a person retries, so does the test.
        wait_for(
            lambda: call('teleop/home', 'std_srvs/srv/Trigger', {})['success'],
            5,
            'teleop accepting Home after the release',
        )
        home = settle(graph, 20)
        assert max(abs(v) for v in home.values() if v is not None) < 0.02, home

        # Outside the allowlist: refused, saying which rule.
        with pytest.raises(
            roslibpy.core.ServiceException, match=r'refused \(allowlist\): service torque'
        ):
            call('torque', 'std_srvs/srv/SetBool', {'data': False})
        assert call('gateway/release_control', 'std_srvs/srv/Trigger', {})['success']
    finally:
        ros.close()


def test_without_the_token_nothing_but_a_refusal(graph: RemoteGraph) -> None:
    before = graph.true_joints()
    anonymous = RawClient(url(graph), graph.cert_path)
    anonymous.send({'op': 'subscribe', 'topic': 'joint_states'})
    refusal = anonymous.recv()
    assert refusal == {
        'op': 'status',
        'level': 'error',
        'msg': "refused (auth): authenticate first (op auth, the pairing token's MAC)",
    }
    assert anonymous.recv(1.0) is None and anonymous.closed  # nothing else, and closed

    from robot_touch.gateway.auth import auth_request

    wrong = RawClient(url(graph), graph.cert_path)
    wrong.send(auth_request('Wrongtoken123456', 'x', 'y', time.time()))
    assert 'wrong token' in wrong.recv()['msg']
    assert wrong.recv(1.0) is None and wrong.closed
    assert moved(before, graph.true_joints()) < 1e-3


def test_allowlist_refusals_are_status_messages(graph: RemoteGraph) -> None:
    c = client(graph, take=True)
    try:
        c.send(
            {
                'op': 'publish',
                'topic': 'forward_position_controller/commands',
                'msg': {'data': [1.0]},
                'id': 'x',
            }
        )
        status = c.until(lambda f: f['op'] == 'status')
        assert (
            status['id'] == 'x'
            and 'refused (allowlist): topic forward_position_controller/commands' in status['msg']
        )
        c.send({'op': 'subscribe', 'topic': 'rosout'})
        assert "not on the gateway's allowlist" in c.until(lambda f: f['op'] == 'status')['msg']
        assert 'refused (allowlist)' in c.call('torque', {'data': False})['values']
        assert (
            'only speed_override'
            in c.call('teleop/set_parameters', {'parameters': [{'name': 'rate'}]})['values']
        )
    finally:
        c.call('gateway/release_control')
        c.close()


def test_tls_pinning(graph: RemoteGraph) -> None:
    """
    The generated certificate is what the gateway serves.

    A client pinning another fingerprint refuses to connect, and a client trusting only CAs does
    too.
    """
    import ssl

    from robot_touch.gateway.tls import fingerprint_of
    from robot_touch.tablet.link import PinnedRos

    der = ssl.PEM_cert_to_DER_cert(graph.cert_path.read_text())
    assert fingerprint_of(der) == graph.fingerprint
    assert oct(graph.cert_path.stat().st_mode & 0o777) == '0o600'
    assert oct((graph.data / 'remote' / 'tls' / 'gateway.key').stat().st_mode & 0o777) == '0o600'

    refusals: list[str] = []
    other = 'AA:' * 31 + 'AA'
    ros = PinnedRos(url(graph), other, graph.token)
    ros.on('refused', refusals.append)
    try:
        wait_for(lambda: refusals, 10, "the pinned client's refusal")
        assert (
            f'does not match the pairing {other}' in refusals[0]
            and graph.fingerprint in refusals[0]
        )
        time.sleep(0.5)
        assert not ros.is_connected
    finally:
        ros.factory.give_up()

    from websockets.sync.client import connect

    with pytest.raises(ssl.SSLCertVerificationError):
        connect(url(graph), ssl=ssl.create_default_context(), open_timeout=10)


def test_a_second_client_cannot_move_the_arm_until_the_first_releases(graph: RemoteGraph) -> None:
    first, second = client(graph, take=True), client(graph)
    try:
        first.call('teleop/enable', {'data': True})
        settle(graph)
        before = graph.true_joints()
        refused = second.call('gateway/take_control')
        assert refused['result'] is False and 'holds control' in refused['values']['message']
        second.send(
            {
                'op': 'publish',
                'topic': 'joint_target',
                'id': 'j',
                'msg': {'name': ['shoulder_pan'], 'position': [0.4]},
            }
        )
        assert (
            'refused (lease)'
            in second.until(lambda f: f['op'] == 'status' and f.get('id') == 'j')['msg']
        )
        time.sleep(0.5)
        assert moved(before, graph.true_joints()) < 1e-3

        # The viewer's e-stop works.
        answer = second.call('teleop/estop', {'data': True})
        assert answer['result'] and answer['values']['success'], answer
        assert (
            second.call('teleop/estop', {'data': False})['result'] is False
        )  # releasing: the holder's
        assert first.call('teleop/estop', {'data': False})['values']['success']

        assert first.call('gateway/release_control')['values']['message'] == 'control released'
        assert second.call('gateway/take_control')['result']
        assert second.call('teleop/enable', {'data': True})['values'][
            'success'
        ]  # released: teleop holds

        def moved_there() -> bool:
            # Sent again until it lands: after the e-stop release teleop re-latches to the
            # measured joints for a moment and refuses targets meanwhile.
            second.send(
                {
                    'op': 'publish',
                    'topic': 'joint_target',
                    'msg': {'name': ['shoulder_pan'], 'position': [0.4]},
                }
            )
            return abs(graph.true_joints()['shoulder_pan'] - 0.4) < 0.01

        wait_for(moved_there, 15, "the second client's move", interval=0.1)
    finally:
        second.call('gateway/release_control')
        first.close()
        second.close()


def _jog_until_moving(
    c: RawClient, graph: RemoteGraph, velocity: float, stop: threading.Event
) -> threading.Thread:
    def stream() -> None:
        while not stop.is_set():
            try:
                c.send(
                    {
                        'op': 'publish',
                        'topic': 'joint_jog',
                        'msg': {'name': ['shoulder_pan'], 'velocity': [velocity]},
                    }
                )
            except Exception:  # the socket was dropped on purpose
                return
            time.sleep(0.02)

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    start = graph.true_joints()
    wait_for(lambda: moved(start, graph.true_joints()) > 0.05, 10, 'the jog moving the arm')
    return thread


def _stopped_within(graph: RemoteGraph, t0: float, limit: float) -> float:
    """Return when, in seconds after ``t0``, the true joints last moved (polled to 1.5 s still)."""
    last, last_move = graph.true_joints(), t0
    while time.monotonic() - last_move < 1.5 and time.monotonic() - t0 < limit + 5:
        time.sleep(0.02)
        now = graph.true_joints()
        if moved(last, now) > 2e-4:
            last_move = time.monotonic()
        last = now
    return last_move - t0


def test_dropping_the_holders_socket_mid_jog_stops_the_arm(graph: RemoteGraph) -> None:
    holder = client(graph, take=True)
    holder.call('teleop/enable', {'data': True})
    holder.send(
        {
            'op': 'publish',
            'topic': 'joint_target',
            'msg': {'name': ['shoulder_pan'], 'position': [-0.8]},
        }
    )
    settle(graph, 20)
    stop = threading.Event()
    _jog_until_moving(holder, graph, 0.6, stop)
    t0 = time.monotonic()
    holder.ws.socket.shutdown(socket.SHUT_RDWR)  # the Wi-Fi is gone: no close handshake
    stop.set()
    assert _stopped_within(graph, t0, 0.5) <= 0.5
    viewer = client(graph)
    try:
        status = viewer.call('gateway/ping') and viewer.call('teleop/enable', {'data': True})
        assert status['result'] is False  # nobody holds control: enabling needs the lease
    finally:
        viewer.close()


class FreezingProxy:
    """A TCP relay that can go silent both ways at once (a radio link that drops, not closes)."""

    def __init__(self, port: int) -> None:
        self.listener = socket.create_server(('::1', 0), family=socket.AF_INET6)
        self.port = self.listener.getsockname()[1]
        self.upstream = port
        self.frozen = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        up = socket.create_connection(('::1', self.upstream))
        for a, b in ((conn, up), (up, conn)):
            threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data or self.frozen.is_set():
                return  # frozen: nothing more crosses, nothing is closed
            dst.sendall(data)


def test_a_silent_holder_loses_control_and_the_arm_holds(graph: RemoteGraph) -> None:
    proxy = FreezingProxy(graph.port)
    holder = RawClient(f'wss://[::1]:{proxy.port}', graph.cert_path)
    holder.auth(graph.token)
    assert holder.call('gateway/take_control')['result']
    holder.call('teleop/enable', {'data': True})
    watcher = client(graph)
    watcher.send({'op': 'subscribe', 'topic': 'gateway/status'})
    # A long move (to the far end of the pan range): silence comes in the middle of it.
    holder.send(
        {
            'op': 'publish',
            'topic': 'joint_target',
            'msg': {'name': ['shoulder_pan'], 'position': [1.5]},
        }
    )
    start = graph.true_joints()
    wait_for(lambda: moved(start, graph.true_joints()) > 0.1, 10, 'the long move under way')
    t0 = time.monotonic()
    proxy.frozen.set()
    free = watcher.until(lambda f: f['op'] == 'publish' and f['msg']['message'] == 'free', 3)
    assert free is not None, 'the lease did not pass'
    assert time.monotonic() - t0 < 0.5 + 0.3  # lease_timeout, plus one gateway tick and delivery
    stopped = _stopped_within(graph, t0, 1.5)
    assert stopped <= 1.5, stopped  # 0.5 s of silence, then teleop brakes under its limits
    assert graph.true_joints()['shoulder_pan'] < 1.4  # held short of the goal, not finished
    assert watcher.call('gateway/take_control')['result']  # the lease is free for the next one
    watcher.call('gateway/release_control')
    watcher.close()


FUZZ_TOPICS = ('target_pose', 'jog', 'joint_jog', 'joint_target', 'gripper')


def test_fuzzed_frames_are_refused_and_nothing_reaches_teleop(graph: RemoteGraph) -> None:
    """
    Malformed JSON, wrong types, huge numbers, unknown fields and ops, oversized frames.

    An error status or a closed connection each time; the gateway and the graph stay up; a DDS
    probe on teleop's inputs sees nothing.
    """
    from hypothesis import given, HealthCheck, settings
    from hypothesis import strategies as st
    import rclpy
    from rclpy.context import Context
    from robot_touch.gateway.convert import load_type
    from robot_touch.gateway.policy import default_rules

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('fuzz_probe', namespace='/' + graph.namespace, context=context)
    seen: list[str] = []
    topics, _services = default_rules()
    for name in FUZZ_TOPICS:
        node.create_subscription(
            load_type(topics[name].type), name, lambda _m, n=name: seen.append(n), 10
        )
    from rclpy.executors import SingleThreadedExecutor

    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()
    box = {'c': client(graph, take=True)}

    bad_number = st.one_of(
        st.just(10**400),
        st.just(-(10**999)),
        st.text(max_size=5),
        st.booleans(),
        st.lists(st.integers(), max_size=3),
        st.none(),
    )
    bad_msg = st.one_of(
        st.fixed_dictionaries({'data': bad_number}),
        st.fixed_dictionaries(
            {'pose': st.fixed_dictionaries({'position': st.fixed_dictionaries({'x': bad_number})})}
        ),
        st.fixed_dictionaries(
            {
                'name': st.just(['shoulder_pan']),
                'position': st.lists(bad_number, min_size=1, max_size=2),
            }
        ),
        st.dictionaries(
            st.sampled_from(['nope', 'extra', 'Data']), st.integers(), min_size=1, max_size=2
        ),
        st.lists(st.integers(), max_size=3),
    )
    frames = st.one_of(
        st.builds(
            lambda t, m: json.dumps({'op': 'publish', 'topic': t, 'msg': m}),
            st.sampled_from(FUZZ_TOPICS),
            bad_msg,
        ),
        st.builds(
            lambda t: '{"op":"publish","topic":"%s","msg":{"data":NaN}}' % t,
            st.sampled_from(FUZZ_TOPICS),
        ),
        st.text(max_size=40).filter(lambda s: not s.strip().startswith('{')),
        st.builds(
            lambda op: json.dumps({'op': op}),
            st.text(min_size=1, max_size=12).filter(
                lambda o: (
                    o
                    not in (
                        'auth',
                        'set_level',
                        'advertise',
                        'unadvertise',
                        'publish',
                        'subscribe',
                        'unsubscribe',
                        'call_service',
                    )
                )
            ),
        ),
        st.builds(
            lambda n: json.dumps(
                {'op': 'publish', 'topic': 'gripper', 'msg': {'data': 0.5, 'pad': 'x' * n}}
            ),
            st.integers(70_000, 200_000),
        ),
        st.binary(min_size=1, max_size=20),
    )

    @settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(frames)
    def one(frame: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

        if box['c'].closed:
            box['c'] = client(graph, take=True)
        c = box['c']
        try:
            c.send(frame)
        except ConnectionClosed:
            pass  # closed by the gateway while the frame went out (an oversized one)
        reply = c.until(lambda f: f['op'] == 'status', 3)
        if reply is None:
            assert c.closed, f'neither a status nor a closed connection for {frame[:80]!r}'
            box['c'] = client(graph, take=True)
        else:
            assert reply['level'] == 'error', reply

    try:
        one()
        time.sleep(0.5)
        assert seen == [], f"reached teleop's inputs: {seen}"
        # Still up: a new client is served and teleop still answers.
        c = client(graph)
        assert c.call('gateway/ping')['result']
        c.send({'op': 'subscribe', 'topic': 'teleop/status'})
        assert c.until(lambda f: f['op'] == 'publish', 5) is not None
        c.close()
    finally:
        box['c'].call('gateway/release_control')
        box['c'].close()
        executor.shutdown(timeout_sec=2)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


@pytest.mark.ui
def test_the_tablet_app_without_ros_drives_the_arm_and_shows_the_disconnect(
    graph: RemoteGraph, tmp_path: Path
) -> None:
    """
    Check that the tablet app drives the arm through the gateway and says when it stops.

    The tablet app runs in a process where rclpy, roboticstoolbox, mujoco and scipy cannot be
    imported: connected through the gateway (pinned certificate, --take-control), an injected
    drag moves the virtual arm; when the gateway stops, the app says so and the motion controls
    go off.
    """
    import shutil

    if not shutil.which('Xvfb'):
        pytest.skip('Xvfb is not installed (make xvfb)')
    from robot_touch.display import Xvfb

    with Xvfb(size='1280x800') as xvfb:
        tablet = TabletProcess(url(graph), graph.token, graph.fingerprint, xvfb.display, tmp_path)
        try:
            state = tablet.operating()
            assert state['blocked_attempts'] == []
            before = graph.true_joints()
            dragged = tablet.ask({'cmd': 'drag', 'view': 'top', 'dx': -40, 'dy': 40}, 'dragged')
            assert dragged['target'] is not None
            assert wait_until(lambda: moved(before, graph.true_joints()) > 0.02, 15), (
                dragged,
                tablet.state(),
            )
            arrived = settle(graph, 20)
            assert np.linalg.norm(tip(arrived) - np.array(dragged['target'])) < 0.01
            modules = tablet.ask({'cmd': 'modules'}, 'modules')['modules']
            assert not {'rclpy', 'roboticstoolbox', 'mujoco', 'scipy'} & set(modules), modules

            pid = graph.child_pid('robot_touch.nodes.gateway')
            assert pid is not None
            os.kill(pid, 2)
            gone = tablet.until(lambda s: 'Link lost' in s['link_text'], 15)
            assert gone, 'the app did not show the gateway stopping'
            assert 'motion controls are off' in gone['link_text']
            assert gone['phase'] == 'disconnected'
            assert tablet.until(lambda s: s['views_disabled'] and not s['estop_disabled'], 5), str(
                tablet.state()
            )
        finally:
            tablet.close()
