"""
The gateway's pure parts.

Conversion limits, the rosauth MAC, tokens and files, pairings, and a hypothesis fuzz of the
protocol core (nothing malformed ever reaches the ROS side).
"""

from __future__ import annotations

import json
import stat

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from robot_touch.gateway import convert
from robot_touch.gateway.auth import auth_request, AuthError, compute_mac, TokenFile, Verifier
from robot_touch.gateway.policy import Policy, Refusal


def test_mac_is_rosauths_sha512_of_the_fields_in_order() -> None:
    import hashlib

    mac = compute_mac(
        'secret0123456789', '10.0.0.2', '10.0.0.1', 'r4nd', 1700000000, 'admin', 1700003600
    )
    expected = hashlib.sha512(
        b'secret012345678910.0.0.210.0.0.1r4nd1700000000admin1700003600'
    ).hexdigest()
    assert mac == expected and len(mac) == 128


def test_auth_times_as_rosbridge_sends_them() -> None:
    v = Verifier('Abcdefgh12345678')
    request = auth_request('Abcdefgh12345678', 'a', 'b', 1000.0)
    request['t'] = {'secs': request['t'], 'nsecs': 5}  # ROS 1 style time object
    v.check(request, 1000.0)
    with pytest.raises(AuthError, match='missing mac'):
        v.check({k: x for k, x in request.items() if k != 'mac'}, 1000.0)
    expired = auth_request('Abcdefgh12345678', 'a', 'b', 1000.0, session_s=-1)
    with pytest.raises(AuthError, match='session end time has passed'):
        v.check(expired, 1000.0)


def test_token_file_is_private_and_rotates(tmp_path) -> None:
    tokens = TokenFile(tmp_path / 'remote' / 'arm1' / 'token')
    first = tokens.ensure()
    assert tokens.read() == first and len(first) == 16
    assert stat.S_IMODE(tokens.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(tokens.path.parent.stat().st_mode) == 0o700
    second = tokens.rotate()
    assert second != first and TokenFile(tokens.path).read() == second
    tokens.path.write_text('short\n')
    assert tokens.read() is None  # a damaged file is no token, never a weak one


def test_self_signed_identity(tmp_path) -> None:
    from robot_touch.gateway.tls import ensure_identity, normalise_fingerprint

    ident = ensure_identity(tmp_path / 'tls')
    assert stat.S_IMODE(ident.key_path.stat().st_mode) == 0o600
    assert ensure_identity(tmp_path / 'tls').fingerprint == ident.fingerprint  # made once
    assert normalise_fingerprint(ident.fingerprint.replace(':', '').lower()) == ident.fingerprint
    with pytest.raises(ValueError):
        normalise_fingerprint('12:34')
    ident.server_context()  # loads


def test_pairing_text(tmp_path) -> None:
    from robot_touch.tablet.pairing import PairingError, parse, Robots

    fp = 'AB:' * 31 + 'CD'
    p = parse(
        json.dumps(
            {'url': 'wss://[fd00::5]:9090', 'token': 'Abcdefgh12345678', 'fingerprint': fp.lower()}
        )
    )
    assert p.fingerprint == fp and p.url == 'wss://[fd00::5]:9090'
    with pytest.raises(PairingError, match='fingerprint'):
        parse('wss://10.0.0.1:9090 Abcdefgh12345678')
    with pytest.raises(PairingError, match='token'):
        parse('ws://10.0.0.1:9090 short')
    robots = Robots(tmp_path / 'robots.json')
    robots.remember(p)
    robots.remember(p)
    assert [r.url for r in robots.load()] == [p.url]
    assert stat.S_IMODE(robots.path.stat().st_mode) == 0o600


def test_description_becomes_a_profile(tmp_path, so101) -> None:
    from robot_touch.tablet.pairing import profile_from_description

    profile = profile_from_description(so101.path.read_text(), so101.urdf_xml(), tmp_path)
    assert profile.joint_names == so101.joint_names and profile.base_link == so101.base_link
    assert 'xacro' not in profile.urdf_path.read_text()


def test_names_resolve_inside_the_namespace_only() -> None:
    policy = Policy(namespace='arm1')
    assert policy.relative('/arm1/teleop/estop') == 'teleop/estop'
    for bad in ('/arm2/jog', '../jog', '', 5, 'a//b'):
        with pytest.raises(Refusal):
            policy.relative(bad)


@pytest.mark.parametrize(
    ('cls', 'data', 'error'),
    [
        ('std_msgs/msg/Float32', {'data': 1e39}, 'float32'),
        ('std_msgs/msg/Int8', {'data': 128}, 'outside -128..127'),
        ('std_msgs/msg/UInt64', {'data': -1}, 'outside 0..18446744073709551615'),
        ('std_msgs/msg/Bool', {'data': 1}, 'true or false'),
        ('sensor_msgs/msg/Image', {'data': '!!notbase64'}, 'base64'),
        ('geometry_msgs/msg/PoseWithCovariance', {'covariance': [0.0] * 35}, 'exactly 36'),
    ],
)
def test_conversion_limits(cls: str, data: dict, error: str) -> None:
    with pytest.raises(convert.ConversionError, match=error):
        convert.to_ros(convert.load_type(cls), data)


def test_round_trip_of_fixed_arrays_bytes_and_nan() -> None:
    from geometry_msgs.msg import PoseWithCovariance
    from sensor_msgs.msg import Image, JointState

    pc = convert.to_ros(PoseWithCovariance, {'covariance': list(range(36))})
    assert convert.to_json(pc)['covariance'] == [float(i) for i in range(36)]
    img = convert.to_ros(Image, {'data': [1, 2, 255]})
    assert convert.to_json(img)['data'] == 'AQL/'
    js = JointState(name=['a'], position=[float('nan')])
    assert convert.to_json(js)['position'] == [None]  # JSON has no NaN


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(['target_pose', 'jog', 'joint_jog', 'joint_target', 'gripper']),
    msg=json_values,
    op=st.sampled_from(['publish', 'advertise', 'subscribe', 'call_service', 'zap', 7]),
)
def test_fuzzed_core_never_passes_a_bad_message(topic: str, msg: object, op: object) -> None:
    """
    Check that whatever arrives, the ROS side gets only messages that converted cleanly.

    Such a message is then a valid message of the topic's type, and the core keeps serving.
    """
    from support.gateway_harness import Harness  # the fake ROS side

    h = Harness()
    c = h.connect()
    h.take(c)
    h.send(c, {'op': op, 'topic': topic, 'msg': msg, 'service': topic, 'args': msg})
    for name, published in h.ros.published:
        rule = h.core.policy.topics[name]
        assert type(published) is convert.load_type(rule.type)
        again = convert.to_ros(
            type(published), convert.to_json(published)
        )  # it is a valid message
        assert convert.to_json(again) == convert.to_json(published)
    h.send(c, {'op': 'call_service', 'service': 'gateway/ping', 'id': 'still'})
    assert h.frames(c, 'service_response')[-1]['id'] == 'still'


def test_graph_starts_the_gateway_for_remote_access() -> None:
    from robot_touch.graph import command_line, describe, GraphConfig

    plain = [s.name for s in describe(GraphConfig())]
    assert 'gateway' not in plain
    specs = describe(
        GraphConfig(remote=True, remote_port=9443, remote_bind='fd00::1', namespace='arm1')
    )
    (gw,) = [s for s in specs if s.name == 'gateway']
    assert gw.parameters == {
        'arm': 'so101',
        'port': 9443,
        'bind': 'fd00::1',
        'insecure': False,
        'publish_description': True,
    }
    assert gw.ready_prefix == 'GATEWAY '
    argv = command_line(gw, 'arm1')
    assert '__ns:=/arm1' in argv and 'port:=9443' in argv
    gazebo = [
        s for s in describe(GraphConfig(backend='gazebo', remote=True)) if s.name == 'gateway'
    ][0]
    assert gazebo.parameters['publish_description'] is False  # robot_state_publisher does it there
    with pytest.raises(ValueError, match='remote_port'):
        GraphConfig(remote=True, remote_port=70000)
