"""
The gateway's protocol core without ROS or sockets.

A fake ROS side records what would have reached ROS, and the frames each client would have received
are read back as JSON.
"""

from __future__ import annotations

import pytest
from robot_touch.gateway.auth import auth_request
from robot_touch.gateway.frames import CLOSE_POLICY
from robot_touch.gateway.policy import Caps
from support.gateway_harness import Harness, TOKEN, WALL

POSE = {'header': {'frame_id': 'base'}, 'pose': {'position': {'x': 0.2, 'y': 0.0, 'z': 0.1}}}


def test_nothing_but_a_refusal_before_auth_and_the_connection_closes() -> None:
    h = Harness()
    cid = h.connect(authenticate=False)
    h.send(cid, {'op': 'publish', 'topic': 'target_pose', 'msg': POSE})
    assert h.ros.published == []
    assert h.frames(cid) == [
        {
            'op': 'status',
            'level': 'error',
            'msg': "refused (auth): authenticate first (op auth, the pairing token's MAC)",
        }
    ]
    assert h.closed[cid][0] == CLOSE_POLICY


def test_wrong_token_is_refused_with_the_reason() -> None:
    h = Harness()
    cid = h.core.opened('10.0.0.9', h.now)
    h.send(cid, auth_request('Zbcdefgh12345678', '10.0.0.9', '10.0.0.1', WALL))
    (status,) = h.frames(cid)
    assert status['level'] == 'error' and 'wrong token' in status['msg']
    assert cid in h.closed


def test_auth_clock_skew_and_replay() -> None:
    h = Harness()
    cid = h.core.opened('a', h.now)
    h.send(cid, auth_request(TOKEN, 'a', 'b', WALL - 120))
    assert "differs from the gateway's clock by -120 s (allowed ±30 s" in h.frames(cid)[0]['msg']
    assert 'gateway time 1700000000' in h.frames(cid)[0]['msg']
    request = auth_request(TOKEN, 'a', 'b', WALL)
    first, second = h.core.opened('a', h.now), h.core.opened('a', h.now)
    h.send(first, request)
    assert first not in h.closed
    h.send(second, request)
    assert 'replay' in h.frames(second)[-1]['msg'] and second in h.closed


def test_viewer_cannot_move_holder_can_and_estop_is_for_anyone() -> None:
    h = Harness()
    a, b = h.connect(), h.connect()
    h.send(b, {'op': 'publish', 'topic': 'target_pose', 'msg': POSE, 'id': 'p1'})
    assert h.ros.published == []
    refusal = h.frames(b, 'status')[-1]
    assert (
        refusal['id'] == 'p1'
        and 'take control first' in refusal['msg']
        and '(lease)' in refusal['msg']
    )
    assert h.take(a)['result'] is True
    assert (
        h.take(b)['result'] is False
        and 'client 1 (::1) holds control' in h.take(b)['values']['message']
    )
    h.send(a, {'op': 'publish', 'topic': 'target_pose', 'msg': POSE})
    ((name, msg),) = h.ros.published
    assert name == 'target_pose' and msg.pose.position.x == 0.2 and msg.header.frame_id == 'base'
    assert msg.header.stamp.sec == 42  # no stamp given: the gateway's clock (rosbridge's rule)
    # A viewer's e-stop goes through; its release does not.
    h.send(b, {'op': 'call_service', 'service': 'teleop/estop', 'args': {'data': True}, 'id': 's'})
    assert h.ros.calls[-1][0] == 'teleop/estop' and h.ros.calls[-1][1].data is True
    assert h.frames(b, 'service_response')[-1] == {
        'op': 'service_response',
        'service': 'teleop/estop',
        'values': {'success': True, 'message': ''},
        'result': True,
        'id': 's',
    }
    calls = len(h.ros.calls)
    h.send(b, {'op': 'call_service', 'service': 'teleop/estop', 'args': {'data': False}})
    assert len(h.ros.calls) == calls
    assert h.frames(b, 'service_response')[-1]['result'] is False


def test_lease_passes_on_silence_and_teleop_holds() -> None:
    h = Harness()
    a, b = h.connect(), h.connect()
    h.take(a)
    h.now += 0.4
    h.core.heard(a, h.now)  # a pong
    h.core.tick(h.now)
    assert h.core.lease.holds(a)
    h.now += 0.51
    h.core.tick(h.now)
    assert h.core.lease.holder is None
    assert h.ros.holds == ['client 1 silent']
    assert h.take(b)['result'] is True


def test_disconnect_of_the_holder_holds_at_once() -> None:
    h = Harness()
    a = h.connect()
    h.take(a)
    h.core.closed(a, h.now)
    assert h.ros.holds == ['client 1 disconnected']


def test_allowlist_refusals_name_the_rule() -> None:
    h = Harness(namespace='arm1')
    c = h.connect()
    h.take(c)
    cases = [
        (
            {'op': 'publish', 'topic': 'forward_position_controller/commands', 'msg': {}},
            'refused (allowlist): topic forward_position_controller/commands is not on the '
            "gateway's allowlist",
        ),
        ({'op': 'subscribe', 'topic': 'target_pose'}, 'may not be subscribed remotely'),
        ({'op': 'publish', 'topic': 'joint_states', 'msg': {}}, 'may not be published remotely'),
        ({'op': 'publish', 'topic': '/arm2/target_pose', 'msg': {}}, 'refused (namespace)'),
        ({'op': 'advertise', 'topic': 'target_pose', 'type': 'std_msgs/String'}, 'refused (type)'),
        (
            {'op': 'subscribe', 'topic': 'joint_states', 'compression': 'cbor'},
            'refused (compression)',
        ),
        ({'op': 'send_action_goal', 'action': 'x'}, 'not supported by this gateway'),
        ({'op': 'frobnicate'}, "op 'frobnicate' is unknown"),
    ]
    for message, expected in cases:
        h.send(c, message)
        assert expected in h.frames(c, 'status')[-1]['msg'], (message, h.frames(c, 'status')[-1])
    h.send(c, {'op': 'call_service', 'service': 'torque', 'args': {'data': False}})
    assert "not on the gateway's allowlist" in h.frames(c, 'service_response')[-1]['values']
    h.send(
        c,
        {
            'op': 'call_service',
            'service': 'teleop/set_parameters',
            'args': {'parameters': [{'name': 'rate'}]},
        },
    )
    assert 'only speed_override' in h.frames(c, 'service_response')[-1]['values']
    assert h.ros.published == [] and h.ros.calls == []
    # The absolute name inside the namespace is the same topic.
    h.send(c, {'op': 'publish', 'topic': '/arm1/gripper', 'msg': {'data': 1.0}})
    assert h.ros.published[-1][0] == 'gripper'


def test_bad_messages_are_refused_and_nothing_reaches_ros() -> None:
    h = Harness()
    c = h.connect()
    h.take(c)
    for frame in [
        '{',
        '[1,2]',
        '{"op": 3}',
        '{"op":"publish","topic":"gripper","msg":{"data":NaN}}',
        '{"op":"publish","topic":"gripper","msg":{"data":1e999}}',
        b'\x00\x01',
        '{"op":"publish","topic":"jog","msg":{"twist":{"linear":{"x":"fast"}}}}',
        '{"op":"subscribe","topic":"joint_states","throttle_rate":-5}',
    ]:
        h.send(c, frame)
        assert h.frames(c, 'status')[-1]['level'] == 'error', frame
    assert h.ros.published == []
    assert h.core.sessions[c].authenticated and c not in h.closed


def test_rate_cap_drops_and_counts() -> None:
    h = Harness(Caps(max_rate=10.0, burst=6.0))
    c = h.connect()
    h.send(c, {'op': 'set_level', 'level': 'warning'})  # the report is a warning
    h.take(c)
    for _ in range(50):
        h.send(c, {'op': 'publish', 'topic': 'gripper', 'msg': {'data': 0.5}})
    assert len(h.ros.published) == 3  # the burst of 6, less auth, set_level and the take
    h.core.tick(h.now)
    assert '47 messages dropped' in h.frames(c, 'status')[-1]['msg']
    # More drops within the second: the client is not told again until the second is over.
    for _ in range(5):
        h.send(c, {'op': 'publish', 'topic': 'gripper', 'msg': {'data': 0.5}})
    reports = len(h.frames(c, 'status'))
    h.core.tick(h.now + 0.5)
    assert len(h.frames(c, 'status')) == reports
    h.core.tick(h.now + 1.0)
    assert '52 messages dropped' in h.frames(c, 'status')[-1]['msg']


def test_client_cap() -> None:
    h = Harness(Caps(max_clients=2))
    assert h.core.opened('a', 0) and h.core.opened('b', 0)
    assert h.core.opened('c', 0) is None
    assert 'client cap' in h.core.busy_text()


def test_subscribe_throttle_and_queue_and_latched() -> None:
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    h = Harness()
    c = h.connect()
    h.send(c, {'op': 'subscribe', 'topic': 'joint_states', 'throttle_rate': 100, 'id': 'js'})
    assert h.ros.wanted == ['joint_states']
    for i in range(10):  # 100 Hz for 0.1 s
        h.core.ros_message(
            'joint_states', JointState(name=['a'], position=[float(i)]), h.now + i * 0.01
        )
    got = [f['msg']['position'] for f in h.frames(c, 'publish')]
    assert got == [[0.0]]
    h.core.ros_message('joint_states', JointState(name=['a'], position=[10.0]), h.now + 0.1)
    assert [f['msg']['position'] for f in h.frames(c, 'publish')] == [[0.0], [10.0]]
    # queue_length: waits, leaves one per throttle period, oldest dropped when full.
    h.send(
        c, {'op': 'subscribe', 'topic': 'teleop/status', 'throttle_rate': 50, 'queue_length': 2}
    )
    from diagnostic_msgs.msg import DiagnosticStatus

    for i in range(4):
        h.core.ros_message('teleop/status', DiagnosticStatus(message=str(i)), h.now)
    h.core.tick(h.now + 0.05)
    h.core.tick(h.now + 0.10)
    h.core.tick(h.now + 0.15)
    msgs = [f['msg']['message'] for f in h.frames(c, 'publish') if f['topic'] == 'teleop/status']
    assert msgs == ['0', '2', '3']
    # A latched topic reaches a later subscriber from the cache.
    h.core.ros_message('arm_profile', String(data='name: so101'), h.now)
    d = h.connect()
    h.send(d, {'op': 'subscribe', 'topic': 'arm_profile', 'type': 'std_msgs/String'})
    assert h.frames(d, 'publish')[-1]['msg'] == {'data': 'name: so101'}
    h.send(c, {'op': 'unsubscribe', 'topic': 'joint_states', 'id': 'js'})
    assert h.ros.dropped == ['joint_states']


def test_gateway_status_tells_each_client_who_holds_control() -> None:
    h = Harness()
    a, b = h.connect(), h.connect()
    for c in (a, b):
        h.send(c, {'op': 'subscribe', 'topic': 'gateway/status'})
    h.take(a)

    def latest(c: int) -> dict:
        frame = [f for f in h.frames(c, 'publish') if f['topic'] == 'gateway/status'][-1]
        return {kv['key']: kv['value'] for kv in frame['msg']['values']} | {
            'message': frame['msg']['message']
        }

    assert latest(a)['you_hold'] == 'true' and latest(a)['message'] == 'held'
    assert latest(b)['you_hold'] == 'false' and latest(b)['holder'] == 'client 1 (::1)'
    h.send(a, {'op': 'call_service', 'service': 'gateway/release_control'})
    assert latest(b)['message'] == 'free' and h.ros.holds == ['client 1 released']


def test_rotated_token_closes_old_sessions() -> None:
    h = Harness()
    c = h.connect()
    h.token = 'Newtoken12345678'
    h.core.tick(h.now)
    assert 'rotated' in h.frames(c, 'status')[-1]['msg'] and c in h.closed


def test_auth_timeout() -> None:
    h = Harness(Caps(auth_timeout=5.0))
    c = h.connect(authenticate=False)
    h.core.tick(h.now + 5.1)
    assert c in h.closed


@pytest.mark.parametrize('args', [[True], {'data': True}])
def test_service_args_positional_or_named(args) -> None:
    h = Harness()
    c = h.connect()
    h.send(c, {'op': 'call_service', 'service': 'teleop/estop', 'args': args})
    assert h.ros.calls[-1][1].data is True


def test_free_drive_is_the_lease_holders_and_its_joints_the_only_other_setting() -> None:
    """
    Teach by hand from a tablet.

    The operator may switch free drive and choose its joints (teleop's free_drive_joints); a viewer
    is refused, and no other parameter is settable.
    """
    h = Harness()
    holder, viewer = h.connect(), h.connect()
    h.take(holder)
    joints = {
        'parameters': [
            {'name': 'free_drive_joints', 'value': {'type': 9, 'string_array_value': ['gripper']}}
        ]
    }
    for cid in (viewer, holder):
        h.send(cid, {'op': 'call_service', 'service': 'teleop/set_parameters', 'args': joints})
        h.send(cid, {'op': 'call_service', 'service': 'teleop/free_drive', 'args': {'data': True}})
    refusals = h.frames(viewer, 'service_response')
    assert all(frame['result'] is False for frame in refusals), refusals
    assert [name for name, _ in h.ros.calls] == ['teleop/set_parameters', 'teleop/free_drive']
    assert h.ros.calls[0][1].parameters[0].value.string_array_value == ['gripper']
    h.send(
        holder,
        {
            'op': 'call_service',
            'service': 'teleop/set_parameters',
            'args': {'parameters': [{'name': 'free_drive_joints'}, {'name': 'output'}]},
        },
    )
    assert "not 'output'" in h.frames(holder, 'service_response')[-1]['values']
    assert len(h.ros.calls) == 2


def test_malformed_frames_get_one_sentence_naming_the_rule() -> None:
    """Check the words a client sees for each kind of malformed frame (frames.parse)."""
    h = Harness()
    c = h.connect()
    h.take(c)
    for frame, said in [
        (b'\x00\x01', 'refused (frame): binary frames are not supported: send JSON text'),
        ('{', 'refused (json): not valid JSON (Expecting property name enclosed in double'),
        ('{"op":"publish","msg":{"data":NaN}}', 'refused (json): not valid JSON (NaN is not a'),
        ('[1,2]', 'refused (op): a rosbridge message is a JSON object with a string "op"'),
        ('{"op":"frobnicate","id":7}', "refused (op): op 'frobnicate' is unknown"),
    ]:
        h.send(c, frame)
        status = h.frames(c, 'status')[-1]
        assert status['level'] == 'error' and status['msg'].startswith(said), (frame, status)
    assert status['id'] == 7  # the request's id comes back once the frame is an object
