"""Gesture recognition and target editing, fed with synthetic touch streams."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from robot_touch.core.gestures import (
    DoubleTap,
    Dragged,
    DragStarted,
    GestureConfig,
    GestureEnded,
    GestureRecognizer,
    LatestWins,
    LongPress,
    TargetEditor,
    TouchEvent,
    TwoFinger,
    TwoFingerStarted,
)
from robot_touch.core.workspace_view import Pose, rot_x, ViewMapping

W, H = 400.0, 400.0


def run(events, recognizer=None):
    r = recognizer or GestureRecognizer(W, H)
    out = []
    for e in events:
        out += r.feed(TouchEvent(*e) if isinstance(e, tuple) else e)
    return r, out


def drag(id_, x0, y0, x1, y1, t0=0.0, steps=10, dt=0.016):
    ev = [(id_, x0, y0, t0, 'down')]
    for i in range(1, steps + 1):
        f = i / steps
        ev.append((id_, x0 + f * (x1 - x0), y0 + f * (y1 - y0), t0 + i * dt, 'move'))
    ev.append((id_, x1, y1, t0 + (steps + 1) * dt, 'up'))
    return ev


def test_drag_is_relative_to_touch_down_point():
    _, out = run(drag(1, 100, 100, 180, 60))
    assert out[0] == DragStarted(100, 100)
    drags = [g for g in out if isinstance(g, Dragged)]
    assert drags[-1] == Dragged(pytest.approx(80), pytest.approx(-40))
    assert out[-1] == GestureEnded(cancelled=False)
    # Nothing moves before the finger leaves the slop: no jump on touch-down.
    assert all(math.hypot(g.dx, g.dy) > GestureConfig().slop_px for g in drags)


def test_small_jitter_is_not_a_drag():
    _, out = run([(1, 100, 100, 0.0, 'down'), (1, 103, 98, 0.05, 'move'), (1, 103, 98, 0.5, 'up')])
    assert out == []


@pytest.mark.parametrize(
    'gap_s, offset_px, expected',
    [(0.2, 5, True), (0.6, 5, False), (0.2, 100, False)],
    ids=['double-tap', 'too-slow', 'too-far'],
)
def test_double_tap(gap_s, offset_px, expected):
    ev = [
        (1, 50, 50, 0.0, 'down'),
        (1, 50, 50, 0.05, 'up'),
        (2, 50 + offset_px, 50, 0.05 + gap_s, 'down'),
        (2, 50 + offset_px, 50, 0.1 + gap_s, 'up'),
    ]
    _, out = run(ev)
    assert (out == [DoubleTap(50 + offset_px, 50)]) is expected


def test_long_press_fires_once_on_tick_and_blocks_drag():
    r = GestureRecognizer(W, H)
    r.feed(TouchEvent(1, 30, 30, 0.0, 'down'))
    assert r.tick(0.5) == []
    assert r.tick(0.9) == [LongPress(30, 30)]
    assert r.tick(1.5) == []
    # Moving after a long press does not start a drag, and the lift is not a tap.
    assert r.feed(TouchEvent(1, 130, 30, 1.6, 'move')) == []
    assert r.feed(TouchEvent(1, 130, 30, 1.7, 'up')) == []
    assert r.state == 'idle'


def test_pinch_and_rotate():
    ev = [
        (1, 100, 200, 0.0, 'down'),
        (2, 300, 200, 0.01, 'down'),
        (2, 200, 400 - 0.0, 0.1, 'move'),
    ]
    r, out = run(ev, GestureRecognizer(W, 500))
    assert TwoFingerStarted() in out
    last = [g for g in out if isinstance(g, TwoFinger)][-1]
    # Finger 2 went from (300,200) to (200,400): vector (200,0) → (100,200).
    assert last.scale == pytest.approx(math.hypot(100, 200) / 200)
    assert last.rotation == pytest.approx(math.atan2(200, 100))


def test_drag_then_second_finger_ends_drag_and_starts_pinch():
    ev = [(1, 100, 100, 0.0, 'down'), (1, 150, 100, 0.05, 'move'), (2, 300, 100, 0.1, 'down')]
    _, out = run(ev)
    assert out[-2:] == [GestureEnded(cancelled=False), TwoFingerStarted()]


def test_lifting_one_of_two_fingers_does_not_start_a_drag():
    ev = [
        (1, 100, 100, 0.0, 'down'),
        (2, 300, 100, 0.0, 'down'),
        (2, 300, 100, 0.1, 'up'),
        (1, 200, 200, 0.2, 'move'),
        (1, 250, 200, 0.3, 'move'),
    ]
    r, out = run(ev)
    assert not any(isinstance(g, (Dragged, DragStarted)) for g in out)
    r.feed(TouchEvent(1, 250, 200, 0.4, 'up'))
    assert r.state == 'idle'


@pytest.mark.parametrize(
    'size, pressure', [(120.0, None), (10.0, 0.99)], ids=['large-contact', 'hard-press']
)
def test_palm_is_ignored(size, pressure):
    r = GestureRecognizer(W, H, GestureConfig(palm_pressure=0.9))
    ev = [
        TouchEvent(1, 100, 100, 0.0, 'down', size, pressure),
        TouchEvent(1, 300, 300, 0.1, 'move', size, pressure),
    ]
    # A real finger keeps working beside the palm.
    ev += [TouchEvent(*e) for e in drag(2, 50, 50, 150, 50, t0=0.2)]
    _, out = run(ev, r)
    assert out[0] == DragStarted(50, 50)
    assert [g for g in out if isinstance(g, Dragged)][-1].dx == pytest.approx(100)


def test_three_fingers_cancel_and_block_until_all_lift():
    ev = [
        (1, 100, 100, 0.0, 'down'),
        (1, 160, 100, 0.05, 'move'),
        (2, 200, 200, 0.06, 'down'),
        (3, 250, 250, 0.07, 'down'),
    ]
    r, out = run(ev)
    assert out[-1] == GestureEnded(cancelled=True)
    _, more = run(
        [
            (3, 300, 300, 0.1, 'move'),
            (2, 100, 300, 0.1, 'move'),
            (3, 0, 0, 0.2, 'up'),
            (2, 0, 0, 0.2, 'up'),
            (1, 0, 0, 0.2, 'up'),
        ],
        r,
    )
    assert more == []
    assert r.state == 'idle'


def test_leaving_the_view_ends_the_drag():
    ev = [
        (1, 100, 100, 0.0, 'down'),
        (1, 200, 100, 0.05, 'move'),
        (1, W + 10, 100, 0.1, 'move'),
        (1, 100, 100, 0.15, 'move'),
        (1, 100, 100, 0.2, 'up'),
    ]
    r, out = run(ev)
    assert out[-1] == GestureEnded(cancelled=True)
    assert sum(isinstance(g, Dragged) for g in out) == 1
    assert r.state == 'idle'


events = st.lists(
    st.tuples(
        st.integers(0, 4),
        st.floats(allow_nan=True, allow_infinity=True, width=32),
        st.floats(-50, 450),
        st.floats(0, 5),
        st.sampled_from(['down', 'move', 'up']),
        st.one_of(st.none(), st.floats(0, 200)),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(events, st.floats(-1.0, 1.0), st.floats(0.1, 2.0))
def test_random_streams_never_raise_nor_give_nan(stream, tick_offset, slow):
    r = GestureRecognizer(W, H)
    editor = TargetEditor()
    mapping = ViewMapping(500.0, (200.0, 200.0))
    pose = Pose(np.array([0.2, 0.0, 0.1]), np.eye(3))
    for id_, x, y, t, kind, size in stream:
        for g in r.feed(TouchEvent(id_, x, y, t * slow, kind, size)) + r.tick(
            t * slow + tick_offset
        ):
            if isinstance(g, (DragStarted, TwoFingerStarted)):
                editor.begin(pose)
            elif isinstance(g, Dragged):
                new = editor.drag('top', g.dx, g.dy, mapping, 0.3)
                assert (
                    new is not None
                    and np.isfinite(new.position).all()
                    and np.isfinite(new.rotation).all()
                )
            elif isinstance(g, TwoFinger):
                assert math.isfinite(g.scale) and math.isfinite(g.rotation)
                new = editor.two_finger(g.scale, g.rotation)
                assert new is not None and np.isfinite(new.position).all()
            elif isinstance(g, (DoubleTap, LongPress)):
                assert math.isfinite(g.x) and math.isfinite(g.y)
            elif isinstance(g, GestureEnded):
                editor.end()


# ---------------------------------------------------------------------------- target editor


def start_pose():
    return Pose(np.array([0.2, 0.0, 0.1]), np.eye(3))


def test_top_drag_moves_xy_and_turns_with_azimuth():
    e = TargetEditor()
    e.begin(start_pose())
    p = e.drag('top', 0.0, 100.0, ViewMapping(500.0, (0, 0)), azimuth=0.0)
    assert p.position == pytest.approx([0.2, 0.2, 0.1])
    # The tool's approach axis turned with the arm (45 degrees).
    assert p.rotation[:, 0] == pytest.approx([math.sqrt(0.5), math.sqrt(0.5), 0.0])


def test_side_drag_moves_reach_and_height():
    e = TargetEditor()
    e.begin(Pose(np.array([0.0, 0.2, 0.1]), np.eye(3)))
    p = e.drag('side', 50.0, -25.0, ViewMapping(500.0, (0, 0)), azimuth=math.pi / 2)
    assert p.position == pytest.approx([0.0, 0.3, 0.05])


def test_pinch_raises_and_rotate_rolls():
    e = TargetEditor(pinch_gain_m=0.1)
    e.begin(start_pose())
    p = e.two_finger(2.0, 0.5)
    assert p.position[2] == pytest.approx(0.2)
    assert p.rotation == pytest.approx(rot_x(0.5))


@pytest.mark.parametrize(
    'view, u, v, expected',
    [('top', 0.0, 0.3, [0.0, 0.3, 0.1]), ('side', 0.25, 0.3, [0.25, 0.0, 0.3])],
    ids=['top', 'side'],
)
def test_double_tap_goes_to_point(view, u, v, expected):
    assert TargetEditor().go_to(view, start_pose(), u, v, azimuth=0.0).position == pytest.approx(
        expected
    )


def test_editor_without_begin_returns_none():
    assert TargetEditor().drag('top', 1, 1, ViewMapping(1.0, (0, 0)), 0.0) is None


# ---------------------------------------------------------------------------- coalescing


def test_latest_wins_rate_limits_and_keeps_newest():
    c = LatestWins[int](rate_hz=10)
    assert c.offer(1, 0.00) == 1
    assert c.offer(2, 0.02) is None
    assert c.offer(3, 0.05) is None
    assert c.poll(0.06) is None
    assert c.poll(0.10) == 3
    assert c.poll(0.30) is None
    assert c.offer(4, 0.31) == 4


def test_latest_wins_rejects_bad_rate():
    with pytest.raises(ValueError, match='rate_hz'):
        LatestWins(0)
