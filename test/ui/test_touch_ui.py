"""The touch UI under Xvfb: real Kivy touches in, real DDS messages out (seen elsewhere)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from robot_touch.core.workspace_view import matrix_to_quaternion, rot_x

pytestmark = [pytest.mark.ui, pytest.mark.ros]


@pytest.fixture
def h(ui):
    """Provide the shared app, reset to Cartesian mode with no target and an empty message log."""
    ui.app.set_language('en')
    ui.app.set_mode('cartesian')
    ui.app.target = None
    ui.app.stop_playback()
    ui.peer.send(status='ok', joints=dict.fromkeys(ui.app.profile.joint_names, 0.0))
    ui.wait_for(lambda: all(abs(v) < 1e-9 for v in ui.app.joints.values()), 5, 'the arm at zero')
    ui.settle(0.05)
    ui.peer.clear()
    return ui


def targets(h):
    return h.peer.of('target_pose')


def drag_path(h, f, x0, y0, dx, dy, steps=20, pump=True):
    for i in range(1, steps + 1):
        f.move_to(x0 + dx * i / steps, y0 + dy * i / steps)
        if pump:
            h.pump()


@pytest.mark.timeout(30)
def test_top_view_drag_moves_target_with_the_finger_without_jump(h):
    view = h.ids.top_view
    ee = h.app.current_pose().position
    scale = view.mapping.scale
    # Start far from the arm: the target moves by the finger's displacement, it does not jump.
    x0, y0 = view.x + view.width * 0.2, view.y + view.height * 0.3
    f = h.finger(x0, y0).down()
    h.pump()
    drag_path(h, f, x0, y0, 60, 20)
    f.up()
    want = ee + np.array([60 / scale, 20 / scale, 0.0])
    h.wait_for(
        lambda: targets(h) and np.allclose(targets(h)[-1]['p'], want, atol=1e-4),
        5,
        'the final target',
    )
    msgs = targets(h)
    assert all(m['frame'] == h.app.profile.base_link for m in msgs)
    first = np.array(msgs[0]['p'])
    assert np.linalg.norm(first - ee) < 25 / scale  # one slop + one step at most
    assert np.isfinite([c for m in msgs for c in m['p'] + m['q']]).all()


@pytest.mark.timeout(30)
def test_fast_touch_stream_is_coalesced_latest_wins(h):
    view = h.ids.top_view
    ee = h.app.current_pose().position
    x0, y0 = view.center
    f = h.finger(x0, y0).down()
    start = time.monotonic()
    drag_path(h, f, x0, y0, -50, 0, steps=40, pump=False)  # 40 events inside one frame
    f.up()
    took = time.monotonic() - start
    want = ee + np.array([-50 / view.mapping.scale, 0.0, 0.0])
    h.wait_for(
        lambda: targets(h) and np.allclose(targets(h)[-1]['p'], want, atol=1e-4),
        5,
        'the latest target',
    )
    h.settle(0.1)
    # At most one per publish interval while the events came in, plus the final flush.
    assert len(targets(h)) <= 2 + took * h.app.settings.max_publish_rate
    assert len(targets(h)) < 20


@pytest.mark.timeout(30)
def test_side_view_drag_changes_reach_and_height(h):
    view = h.ids.side_view
    ee = h.app.current_pose().position
    x0, y0 = view.x + view.width * 0.3, view.y + view.height * 0.3
    f = h.finger(x0, y0).down()
    drag_path(h, f, x0, y0, -30, 40)
    f.up()
    s = view.mapping.scale
    want = ee + np.array([-30 / s, 0.0, 40 / s])
    h.wait_for(
        lambda: targets(h) and np.allclose(targets(h)[-1]['p'], want, atol=1e-4),
        5,
        'reach/height target',
    )


@pytest.mark.timeout(30)
def test_pinch_sets_height_and_twist_rolls_the_wrist(h):
    view = h.ids.top_view
    ee = h.app.current_pose().position
    cx, cy = view.center
    a, b = h.finger(cx - 40, cy).down(), h.finger(cx + 40, cy).down()
    h.pump()
    # Spread to twice the distance and turn the pair a quarter turn counter-clockwise.
    for i in range(1, 21):
        ang, r = math.pi / 2 * i / 20, 40 * (1 + i / 20)
        a.move_to(cx - r * math.cos(ang), cy - r * math.sin(ang))
        b.move_to(cx + r * math.cos(ang), cy + r * math.sin(ang))
        h.pump()
    a.up()
    b.up()
    want_p = ee + np.array([0, 0, h.app.settings.pinch_gain])
    want_q = np.array(matrix_to_quaternion(rot_x(math.pi / 2)))
    h.wait_for(
        lambda: (
            targets(h)
            and np.allclose(targets(h)[-1]['p'], want_p, atol=1e-3)
            and np.allclose(targets(h)[-1]['q'], want_q, atol=1e-3)
        ),
        5,
        'pinch/rotate target',
    )


@pytest.mark.timeout(30)
def test_double_tap_outside_the_region_shows_unreachable_then_teleops_clamp(h):
    view = h.ids.top_view
    x, y = view.x + 5, view.top - 5  # a corner: outside what the arm can reach
    # Two quick taps (no frame in between: a loaded CI machine must not make them slow).
    for _ in range(2):
        h.finger(x, y).down().up()
    h.pump()
    u, v = view.to_view_m(x - view.x, y - view.y)
    h.wait_for(
        lambda: targets(h) and np.allclose(targets(h)[-1]['p'][:2], [u, v], atol=1e-4),
        5,
        'double-tap target',
    )
    h.wait_for(
        lambda: h.app.target_state == 'unreachable' and view.target_state == 'unreachable',
        5,
        'unreachable',
    )
    if h.app.kinematics is not None:
        # IK's nearest pose is shown where the arm will stop: inside the reach, towards the tap.
        clamp = h.app.clamp_point
        assert clamp is not None and h.app.top_region.contains(clamp[0], clamp[1], margin=0.02)
        assert np.dot(clamp[:2], [u, v]) > 0
        h.wait_for(
            lambda: 'Target out of reach: the arm stops' in h.ids.status.text,
            5,
            'the reach in words',
        )
    h.peer.send(status='clamped')
    h.wait_for(lambda: view.target_state == 'clamped', 5, "teleop's clamped status")
    assert 'clamped' in h.ids.status.text


@pytest.mark.parametrize('kind', ['palm', 'three-fingers'], ids=['palm', 'three-fingers'])
@pytest.mark.timeout(30)
def test_palm_and_three_fingers_are_ignored(h, kind):
    view = h.ids.top_view
    cx, cy = view.center
    if kind == 'palm':
        fingers = [h.finger(cx, cy, size=0.2).down()]  # 20 % of the screen: a palm
    else:
        fingers = [h.finger(cx + dx, cy).down() for dx in (-60, 0, 60)]
    for i in range(1, 11):
        for k, f in enumerate(fingers):
            f.move_to(cx + (k - 1) * 60 + 5 * i, cy + 4 * i)
        h.pump()
    for f in fingers:
        f.up()
    h.settle(0.2)
    assert targets(h) == []


@pytest.mark.timeout(30)
def test_long_press_saves_a_waypoint(h):
    view = h.ids.side_view
    before = len(h.app.waypoints)
    f = h.finger(*view.center).down()
    h.wait_for(lambda: len(h.app.waypoints) == before + 1, 5, 'a waypoint from the long press')
    f.up()
    h.pump()
    assert targets(h) == []
    assert h.app.waypoints.items[-1].joints == pytest.approx(
        dict.fromkeys(h.app.profile.joint_names, 0.0)
    )


@pytest.mark.timeout(30)
def test_estop_latches_at_once_and_releases_only_after_a_hold(h):
    button = h.ids.estop
    h.tap(button)
    h.wait_for(lambda: h.peer.of('estop'), 5, 'the estop call')
    assert h.peer.of('estop')[-1]['data'] is True and button.latched
    # A short tap does not release it.
    h.tap(button)
    h.settle(0.3)
    assert button.latched and len(h.peer.of('estop')) == 1
    f = h.finger(*h.center(button)).down()
    h.wait_for(lambda: len(h.peer.of('estop')) == 2, 5, 'the release after 1 s')
    f.up()
    h.pump()
    assert h.peer.of('estop')[-1]['data'] is False and not button.latched


@pytest.mark.timeout(30)
def test_enable_home_gripper_and_speed(h):
    enable = h.ids.enable_slot.children[0]
    turn_on = enable.state != 'down'  # whatever an earlier test left it at, a tap flips it
    h.tap(enable)
    h.tap(h.ids.home)
    h.tap(h.ids.gripper_open)
    h.tap(h.ids.gripper_close)
    speed = h.ids.speed
    f = h.finger(
        *speed.to_window(
            speed.x + speed.padding + 0.5 * (speed.width - 2 * speed.padding), speed.center_y
        )
    ).down()
    h.pump()
    f.up()
    h.wait_for(
        lambda: h.peer.of('param') and h.peer.of('home') and len(h.peer.of('gripper')) == 2,
        5,
        'the calls',
    )
    assert h.peer.of('enable')[-1]['data'] is turn_on
    assert [g['value'] for g in h.peer.of('gripper')] == [1.0, 0.0]
    param = h.peer.of('param')[-1]
    assert param['name'] == 'speed_override' and 0.45 < param['value'] < 0.6
    h.tap(enable)
    h.wait_for(lambda: h.peer.of('enable')[-1]['data'] is not turn_on, 5, 'the second tap')


@pytest.mark.timeout(30)
def test_joint_slider_sends_that_joint(h):
    h.tap(h.ids.mode_joint)
    assert h.app.mode == 'joint'
    h.settle(0.1)
    slider = h.app.sliders['elbow_flex']
    y = slider.center_y
    x0 = slider.x + slider.padding + 0.5 * (slider.width - 2 * slider.padding)
    f = h.finger(*slider.to_window(x0, y)).down()
    for i in range(1, 11):
        f.move_to(*slider.to_window(x0 + 8 * i, y))
        h.pump()
    f.up()
    spec = h.app.profile.joint('elbow_flex')
    want = (spec.upper - spec.lower) * 80 / (slider.width - 2 * slider.padding)
    h.wait_for(
        lambda: (
            h.peer.of('joint_target')
            and h.peer.of('joint_target')[-1]['positions'][0] == pytest.approx(want, abs=0.02)
        ),
        5,
        'the joint target',
    )
    assert all(m['names'] == ['elbow_flex'] for m in h.peer.of('joint_target'))


@pytest.mark.timeout(40)
def test_teach_and_play_all_waypoints(h):
    h.tap(h.ids.mode_waypoints)
    h.app.waypoints.clear()
    h.app._sync_waypoints(select='')
    poses = [{'shoulder_pan': 0.4, 'elbow_flex': -0.3}, {'shoulder_pan': -0.2, 'wrist_flex': 0.5}]
    for pose, name in zip(poses, ['', 'gắp']):
        h.peer.send(joints=pose)
        h.wait_for(
            lambda: all(abs(h.app.joints[k] - v) < 1e-9 for k, v in pose.items()),
            5,
            'the taught pose',
        )
        h.ids.wp_name.text = name
        h.tap(h.ids.wp_add)
    assert h.app.waypoint_names == ['P1', 'gắp'] and h.ids.wp_name.text == ''
    h.peer.clear()
    h.tap(h.ids.wp_play_all)
    h.wait_for(lambda: len(h.peer.of('joint_target')) >= 2, 10, 'both waypoints played')
    sent = [dict(zip(m['names'], m['positions'])) for m in h.peer.of('joint_target')[:2]]
    for got, pose in zip(sent, poses):
        for k, v in pose.items():
            assert got[k] == pytest.approx(v)
    # Saved and loaded from the user's data folder.
    h.tap(h.ids.wp_save)
    h.app.waypoints.clear()
    h.tap(h.ids.wp_load)
    assert h.app.waypoint_names == ['P1', 'gắp']


@pytest.mark.timeout(30)
def test_language_switches_live(h):
    # The language button names the other language in that language.
    assert h.ids.language.text == 'Tiếng Việt'
    h.tap(h.ids.language)
    assert h.ids.estop.text == 'DỪNG KHẨN'
    assert h.ids.home.text == 'Về vị trí gốc'
    assert h.ids.language.text == 'English'
    h.wait_for(lambda: 'Điều khiển' in h.ids.status.text, 5, 'the Vietnamese status line')
    h.tap(h.ids.language)
    assert h.ids.estop.text == 'E-STOP'


@pytest.mark.timeout(30)
def test_finger_leaving_the_view_ends_the_drag(h):
    top, side = h.ids.top_view, h.ids.side_view
    x0, y0 = top.center
    f = h.finger(x0, y0).down()
    drag_path(h, f, x0, y0, 40, 0, steps=5)
    h.settle(0.1)
    n = len(targets(h))
    assert n >= 1
    last = targets(h)[-1]['p']
    # Over into the side view, then back: the drag is over, nothing more is sent.
    f.move_to(*side.center)
    h.pump()
    drag_path(h, f, side.center_x, y0, x0 + 60 - side.center_x, 0, steps=5)
    f.up()
    h.settle(0.1)
    assert len(targets(h)) == n and targets(h)[-1]['p'] == last


@pytest.mark.timeout(30)
def test_jog_buttons_stream_while_held_and_stop_on_release(h):
    f = h.finger(*h.center(h.ids.jog_up)).down()
    h.wait_for(lambda: len(h.peer.of('jog')) >= 3, 5, 'a jog stream')
    f.up()
    h.wait_for(lambda: h.peer.of('jog')[-1]['linear'] == [0.0, 0.0, 0.0], 5, 'the stop')
    moving = [m['linear'][2] for m in h.peer.of('jog')[:-1]]
    assert all(v == pytest.approx(h.app.settings.jog_speed) for v in moving)
    h.settle(0.2)
    assert h.peer.of('jog')[-1]['linear'] == [0.0, 0.0, 0.0]


@pytest.mark.timeout(30)
def test_hold_to_move_enables_only_while_held(h):
    h.app.hold_to_move = True
    h.app._build_enable(h.app.root)
    try:
        h.pump(2)
        button = h.ids.enable_slot.children[0]
        assert button.text == 'Hold to move'
        f = h.finger(*h.center(button)).down()
        h.wait_for(lambda: h.peer.of('enable'), 5, 'enable on touch-down')
        assert h.peer.of('enable')[-1]['data'] is True
        f.up()
        h.wait_for(lambda: h.peer.of('enable')[-1]['data'] is False, 5, 'disable on lift')
    finally:
        h.app.hold_to_move = False
        h.app._build_enable(h.app.root)
