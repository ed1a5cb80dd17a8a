"""
Touch gestures for a workspace view, and how they move a Cartesian target. Pure Python.

A :class:`GestureRecognizer` takes one view's raw touch stream (:class:`TouchEvent`: id, x, y,
t, down/move/up, optional contact size) and turns it into gesture events: a one-finger drag,
a double tap, a long press, a two-finger pinch/rotate. Palms and three-plus fingers are
ignored; a finger that leaves the view ends its gesture. Coordinates are the view's own
pixels (y up), times are seconds.

:class:`TargetEditor` (:mod:`robot_touch.core.target_editor`, re-exported here) turns those
gestures into end-effector target poses, given how the view maps pixels to metres
(:mod:`robot_touch.core.workspace_view`). Every change is relative to the target at the start
of the gesture, so touching the screen never makes the target jump.

:class:`LatestWins` (:mod:`robot_touch.core.latest_wins`, re-exported here) coalesces the
resulting targets: publish at most ``rate`` times a second, always the newest value.

No Kivy and no ROS here: the UI feeds events in, the tests feed synthetic streams.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Literal, Union

from robot_touch.core.latest_wins import LatestWins
from robot_touch.core.target_editor import TargetEditor, ViewName

__all__ = [
    'DoubleTap',
    'Dragged',
    'DragStarted',
    'Gesture',
    'GestureConfig',
    'GestureEnded',
    'GestureRecognizer',
    'LatestWins',
    'LongPress',
    'TargetEditor',
    'TouchEvent',
    'TouchKind',
    'TwoFinger',
    'TwoFingerStarted',
    'ViewName',
]

TouchKind = Literal['down', 'move', 'up']


@dataclass(frozen=True)
class TouchEvent:
    """
    One raw touch sample.

    :ivar id: stable identifier of the finger for the life of the touch.
    :ivar x, y: position in the view's pixels (origin bottom-left, y up).:
    :ivar t: time stamp in seconds (any monotonic origin).
    :ivar kind: ``down``, ``move`` or ``up``.
    :ivar size: contact size in pixels when the touch device reports a shape, else ``None``.
    :ivar pressure: normalised pressure when reported, else ``None``.
    """

    id: int  # noqa: A003 - the touch id, named as Kivy's MotionEvent.id; the UI reads it
    x: float
    y: float
    t: float
    kind: TouchKind
    size: float | None = None
    pressure: float | None = None


@dataclass(frozen=True)
class GestureConfig:
    """
    Thresholds of the recognizer (pixels and seconds).

    The defaults suit a 10-inch 1280x800 panel; the UI scales the pixel values by its dp.
    """

    #: A finger that moves less than this is still a tap / long-press candidate.
    slop_px: float = 12.0
    #: A tap is a touch shorter than this.
    tap_max_s: float = 0.3
    #: Two taps closer in time and space than these are a double tap.
    double_tap_s: float = 0.35
    double_tap_px: float = 40.0
    #: A still finger held this long is a long press.
    long_press_s: float = 0.8
    #: Contacts larger than this are a palm or a forearm and are ignored.
    palm_size_px: float = 60.0
    #: Contacts pressing harder than this are ignored too (``None``: pressure not used).
    palm_pressure: float | None = None


# ---------------------------------------------------------------------------- gesture events


@dataclass(frozen=True)
class DragStarted:
    """A finger started dragging at (x, y) (where it touched down)."""

    x: float
    y: float


@dataclass(frozen=True)
class Dragged:
    """The dragging finger is (dx, dy) pixels away from where it touched down."""

    dx: float
    dy: float


@dataclass(frozen=True)
class TwoFingerStarted:
    """A second finger joined: a pinch / rotate begins."""


@dataclass(frozen=True)
class TwoFinger:
    """
    Pinch and rotation since the two fingers came down.

    ``scale`` is the ratio of the finger distance now to at the start (> 1: spreading);
    ``rotation`` is the turn of the line between the fingers in radians, counter-clockwise.
    """

    scale: float
    rotation: float


@dataclass(frozen=True)
class GestureEnded:
    """
    The current drag or two-finger gesture is over.

    ``cancelled`` when a finger left the view or a third finger arrived rather than the fingers
    lifting.
    """

    cancelled: bool = False


@dataclass(frozen=True)
class DoubleTap:
    """A double tap at (x, y)."""

    x: float
    y: float


@dataclass(frozen=True)
class LongPress:
    """A finger held still at (x, y) for the long-press time."""

    x: float
    y: float


Gesture = Union[
    DragStarted, Dragged, TwoFingerStarted, TwoFinger, GestureEnded, DoubleTap, LongPress
]


# ---------------------------------------------------------------------------- recognizer


@dataclass
class _Finger:
    x0: float
    y0: float
    t0: float
    x: float
    y: float


class GestureRecognizer:
    """
    State machine from raw touches of one view to :data:`Gesture` events.

    :param width, height: the view's size in pixels; touches outside ``[0, width] x [0, height]``:
        end their gesture. Change them with :meth:`resize`.
    :param config: thresholds.
    """

    def __init__(self, width: float, height: float, config: GestureConfig | None = None) -> None:
        self.config = config or GestureConfig()
        self.width = float(width)
        self.height = float(height)
        self._fingers: dict[int, _Finger] = {}
        self._ignored: set[int] = set()
        # idle | pending (one finger, still) | drag | two | held (long press fired) | blocked
        self._state = 'idle'
        self._v0: tuple[float, float] = (1.0, 0.0)
        self._last_tap: tuple[float, float, float] | None = None

    @property
    def state(self) -> str:
        """Return the current state name (for display and tests)."""
        return self._state

    @property
    def active(self) -> bool:
        """Return True while a drag or two-finger gesture is in progress."""
        return self._state in ('drag', 'two')

    def resize(self, width: float, height: float) -> None:
        """Set the view size (pixels)."""
        self.width = float(width)
        self.height = float(height)

    def reset(self) -> list[Gesture]:
        """Forget every finger; ends the gesture in progress (cancelled)."""
        out = self._end(cancelled=True)
        self._fingers.clear()
        self._ignored.clear()
        self._state = 'idle'
        return out

    # -- input

    def feed(self, ev: TouchEvent) -> list[Gesture]:
        """Process one touch event; returns the gestures it completes or advances (often none)."""
        if not (math.isfinite(ev.x) and math.isfinite(ev.y) and math.isfinite(ev.t)):
            return []
        if ev.kind == 'down':
            return self._down(ev)
        if ev.kind == 'move':
            return self._move(ev)
        if ev.kind == 'up':
            return self._up(ev)
        return []

    def tick(self, t: float) -> list[Gesture]:
        """Let time pass without a touch event (fires the long press). Call it every frame."""
        if self._state == 'pending' and math.isfinite(t):
            (f,) = self._fingers.values()
            if t - f.t0 >= self.config.long_press_s:
                self._state = 'held'
                self._last_tap = None
                return [LongPress(f.x0, f.y0)]
        return []

    # -- helpers

    def _is_palm(self, ev: TouchEvent) -> bool:
        c = self.config
        if ev.size is not None and math.isfinite(ev.size) and ev.size > c.palm_size_px:
            return True
        return (
            ev.pressure is not None
            and c.palm_pressure is not None
            and ev.pressure > c.palm_pressure
        )

    def _inside(self, x: float, y: float) -> bool:
        return 0.0 <= x <= self.width and 0.0 <= y <= self.height

    def _end(self, cancelled: bool) -> list[Gesture]:
        if self._state in ('drag', 'two'):
            return [GestureEnded(cancelled=cancelled)]
        return []

    def _vector(self) -> tuple[float, float]:
        a, b = list(self._fingers.values())[:2]
        return (b.x - a.x, b.y - a.y)

    def _down(self, ev: TouchEvent) -> list[Gesture]:
        if ev.id in self._fingers or ev.id in self._ignored:
            return []
        if self._is_palm(ev) or not self._inside(ev.x, ev.y):
            self._ignored.add(ev.id)
            return []
        self._fingers[ev.id] = _Finger(ev.x, ev.y, ev.t, ev.x, ev.y)
        n = len(self._fingers)
        if self._state in ('blocked', 'held'):
            return []
        if n == 1:
            self._state = 'pending'
            return []
        if n == 2:
            out = self._end(cancelled=False) if self._state == 'drag' else []
            self._state = 'two'
            self._last_tap = None
            vx, vy = self._vector()
            self._v0 = (vx, vy)
            return out + [TwoFingerStarted()]
        # Three or more fingers: not a gesture of ours (a hand resting, a child's fist).
        out = self._end(cancelled=True)
        self._state = 'blocked'
        return out

    def _move(self, ev: TouchEvent) -> list[Gesture]:
        f = self._fingers.get(ev.id)
        if f is None:
            return []
        if self._is_palm(ev):
            # The contact grew into a palm: drop it and stop what it was doing.
            del self._fingers[ev.id]
            self._ignored.add(ev.id)
            out = self._end(cancelled=True)
            self._state = 'blocked' if self._fingers else 'idle'
            return out
        if not self._inside(ev.x, ev.y):
            del self._fingers[ev.id]
            self._ignored.add(ev.id)
            out = self._end(cancelled=True)
            self._state = 'blocked' if self._fingers else 'idle'
            return out
        f.x, f.y = ev.x, ev.y
        if self._state == 'pending':
            if math.hypot(f.x - f.x0, f.y - f.y0) > self.config.slop_px:
                self._state = 'drag'
                self._last_tap = None
                return [DragStarted(f.x0, f.y0), Dragged(f.x - f.x0, f.y - f.y0)]
            return self.tick(ev.t)
        if self._state == 'drag':
            return [Dragged(f.x - f.x0, f.y - f.y0)]
        if self._state == 'two':
            vx, vy = self._vector()
            d0 = math.hypot(*self._v0)
            d1 = math.hypot(vx, vy)
            # Fingers that came down on the same spot give no usable reference: no pinch.
            scale = d1 / d0 if d0 > 1.0 and d1 > 1.0 else 1.0
            rotation = 0.0
            if d0 > 1.0 and d1 > 1.0:
                rotation = math.atan2(vy, vx) - math.atan2(self._v0[1], self._v0[0])
                rotation = (rotation + math.pi) % (2.0 * math.pi) - math.pi
            return [TwoFinger(scale, rotation)]
        return []

    def _up(self, ev: TouchEvent) -> list[Gesture]:
        if ev.id in self._ignored:
            self._ignored.discard(ev.id)
            return []
        f = self._fingers.pop(ev.id, None)
        if f is None:
            return []
        out: list[Gesture] = []
        if self._state == 'pending':
            if ev.t - f.t0 <= self.config.tap_max_s:
                out += self._tap(f.x0, f.y0, ev.t)
            self._state = 'idle'
        elif self._state == 'drag':
            out += self._end(cancelled=False)
            self._state = 'idle'
        elif self._state == 'two':
            # Lifting one of two fingers ends the pinch; the other finger must lift too
            # before anything new starts, or the target would jump to follow it.
            out += self._end(cancelled=False)
            self._state = 'blocked' if self._fingers else 'idle'
        elif not self._fingers:
            self._state = 'idle'
        return out

    def _tap(self, x: float, y: float, t: float) -> list[Gesture]:
        c = self.config
        last = self._last_tap
        if (
            last is not None
            and t - last[2] <= c.double_tap_s
            and math.hypot(x - last[0], y - last[1]) <= c.double_tap_px
        ):
            self._last_tap = None
            return [DoubleTap(x, y)]
        self._last_tap = (x, y, t)
        return []
