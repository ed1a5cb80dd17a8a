"""Waypoint list, YAML files and playback."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.core.waypoints import (
    default_path,
    parse_waypoints,
    Playback,
    Waypoint,
    WaypointError,
    WaypointList,
)
import yaml

NAMES = ['a', 'b']


def make_list():
    wl = WaypointList(joint_names=NAMES)
    wl.add({'a': 0.1, 'b': -0.2}, gripper=0.5)
    wl.add({'a': 0.3, 'b': 0.4}, name='pick')
    return wl


def test_add_names_and_uniqueness():
    wl = make_list()
    assert wl.names == ['P1', 'pick']
    assert wl.next_name() == 'P2'
    with pytest.raises(WaypointError, match='exists already'):
        wl.add({'a': 0, 'b': 0}, name='pick')
    with pytest.raises(WaypointError, match='do not match'):
        wl.add({'a': 0})
    wl.remove('P1')
    assert wl.names == ['pick'] and wl.next_name() == 'P1'


def test_save_load_round_trip(tmp_path):
    wl = make_list()
    path = wl.save(tmp_path / 'sub' / 'w.yaml', 'so101')
    other = WaypointList(joint_names=NAMES)
    other.load(path)
    assert other.items == wl.items
    assert yaml.safe_load(path.read_text())['profile'] == 'so101'


def test_default_path_is_in_user_data(tmp_path, monkeypatch):
    monkeypatch.setenv('ROBOT_TOUCH_DATA', str(tmp_path))
    assert default_path('so101') == tmp_path / 'waypoints' / 'so101.yaml'


BAD_FILES = {
    'not-yaml': ('waypoints: [\n', 'not valid YAML at line'),
    'not-mapping': ('- 1\n- 2\n', 'expected a mapping'),
    'bad-format': ('format: 7\nwaypoints: []\n', 'format 7'),
    'nan-joint': (
        'waypoints:\n  - {name: x, joints: {a: .nan, b: 0}}\n',
        r"waypoints\[0\]: x: joint 'a'",
    ),
    'no-name': ('waypoints:\n  - {joints: {a: 0, b: 0}}\n', 'name must be'),
    'dup-name': (
        'waypoints:\n  - {name: x, joints: {a: 0, b: 0}}\n  - {name: x, joints: {a: 0, b: 0}}\n',
        'used twice',
    ),
    'wrong-joints': (
        'waypoints:\n  - {name: x, joints: {a: 0, c: 0}}\n',
        "missing \\['b'\\], unknown \\['c'\\]",
    ),
    'bad-gripper': (
        'waypoints:\n  - {name: x, joints: {a: 0, b: 0}, gripper: 3}\n',
        'gripper must be',
    ),
    'binary': (b'\xff\xfe\x00', 'cannot read'),
}


@pytest.mark.parametrize('content, message', BAD_FILES.values(), ids=BAD_FILES.keys())
def test_corrupt_file_gives_clear_error_and_keeps_list(tmp_path, content, message):
    path = tmp_path / 'bad.yaml'
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    wl = make_list()
    before = list(wl.items)
    with pytest.raises(WaypointError, match=message) as info:
        wl.load(path)
    assert str(path) in str(info.value)
    assert wl.items == before


def test_missing_file(tmp_path):
    with pytest.raises(WaypointError, match='no such file'):
        parse_waypoints(tmp_path / 'nope.yaml')


@given(st.text(max_size=200))
def test_random_text_never_crashes_otherwise(tmp_path_factory, text):
    path = tmp_path_factory.mktemp('wp') / 'w.yaml'
    path.write_text(text, encoding='utf-8')
    try:
        parse_waypoints(path, NAMES)
    except WaypointError:
        pass


def at(wp: Waypoint) -> dict:
    return dict(wp.joints)


@pytest.mark.parametrize('loop', [False, True], ids=['once', 'loop'])
def test_playback_waits_for_arrival_then_dwell(loop):
    wl = make_list()
    pb = Playback(list(wl), loop=loop, tolerance=0.01, dwell_s=0.5)
    far = {'a': 9.0, 'b': 9.0}
    assert pb.update(far, 0.0).name == 'P1'
    assert pb.update(far, 1.0) is None
    assert pb.update(at(wl.get('P1')), 2.0) is None  # arrived: dwell starts
    assert pb.update(at(wl.get('P1')), 2.6).name == 'pick'
    assert pb.update(at(wl.get('pick')), 3.0) is None
    nxt = pb.update(at(wl.get('pick')), 3.6)
    if loop:
        assert nxt.name == 'P1' and pb.active
    else:
        assert nxt is None and not pb.active


def test_playback_stop_and_empty():
    assert not Playback([]).active
    pb = Playback(list(make_list()))
    pb.stop()
    assert pb.update({}, 0.0) is None
