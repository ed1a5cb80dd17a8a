"""
A workspace view widget.

The arm, its reachable region and the target, seen from the top (x–y) or the side (reach–z), over a
millimetre grid with its scale bar; the top view also draws and labels the arm's reach circle.
Touches become gestures (``on_gesture``) through the pure
:class:`~robot_touch.core.gestures.GestureRecognizer`.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.graphics import Color, Ellipse, InstructionGroup, Line, Mesh, Rectangle
from kivy.metrics import dp
from kivy.properties import NumericProperty, OptionProperty, StringProperty
from kivy.uix.label import Label
from kivy.uix.stencilview import StencilView
import numpy as np
from robot_touch.core.gestures import GestureConfig, GestureRecognizer, TouchEvent
from robot_touch.core.workspace_view import (
    Pose,
    project_side,
    project_top,
    ReachableRegion,
    ViewMapping,
)
from robot_touch.ui.sizing import scale_step_mm

# Colours (r, g, b, a). Target states also differ in shape, so no state relies on colour alone.
BACKGROUND = (0.10, 0.11, 0.13, 1)
GRID = (0.22, 0.24, 0.28, 1)
REGION = (0.16, 0.32, 0.40, 1)
ARM = (0.95, 0.75, 0.15, 1)
JOINT = (0.15, 0.15, 0.15, 1)
EE = (1.0, 1.0, 1.0, 1)
SCALE = (0.80, 0.84, 0.90, 1)
REACH = (0.45, 0.78, 0.95, 1)
#: the grid's spacing is the shortest 1-2-5 step (mm) at least this long (dp)
GRID_MIN_DP = 40
#: how often the gesture recogniser is told the time (s): a finger held still becomes a long press
GESTURE_TICK_PERIOD = 1 / 20
TARGET_COLOURS = {
    'ok': (0.30, 0.90, 0.45, 1),
    'clamped': (1.0, 0.62, 0.10, 1),
    'unreachable': (1.0, 0.25, 0.25, 1),
}


class WorkspaceView(StencilView):
    """
    One orthographic view (clipped to its box).

    Set :attr:`region`, then call :meth:`show` with the arm's skeleton, end-effector and target;
    bind ``on_gesture(view, gesture)``.
    """

    kind = OptionProperty('top', options=['top', 'side'])
    #: Angle of the side view's plane about the base z axis (rad): the arm's own azimuth.
    azimuth = NumericProperty(0.0)
    #: ok | clamped | unreachable: how the target marker is drawn.
    target_state = StringProperty('ok')
    #: the reach circle's label, ``{mm}`` its radius (top view); "" draws no reach circle
    reach_format = StringProperty('')
    #: the grid's spacing and the scale bar's length (mm), chosen for the view's size
    grid_mm = NumericProperty(100)

    __events__ = ('on_gesture',)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.region: ReachableRegion | None = None
        self.mapping = ViewMapping(500.0, (0.0, 0.0))
        self.gesture_config = GestureConfig(
            slop_px=dp(8), double_tap_px=dp(32), palm_size_px=dp(40)
        )
        self.recognizer = GestureRecognizer(1, 1, self.gesture_config)
        self._skeleton: np.ndarray | None = None
        self._ee: np.ndarray | None = None
        self._target: np.ndarray | None = None
        self._clamp: np.ndarray | None = None
        #: Fingers on the view (uid → local x, y): drawn as soft rings so the user sees what
        #: the screen registered, palms and all.
        self._fingers: dict[int, tuple[float, float]] = {}
        self._redraw_soon = Clock.create_trigger(lambda _dt: self._redraw_dynamic())
        self._static = InstructionGroup()
        self._dynamic = InstructionGroup()
        self.canvas.add(self._static)
        self.canvas.add(self._dynamic)
        # Texts are labels (children), so the layout tests see them like every other text.
        self.scale_label = self._caption(SCALE)
        self.reach_label = self._caption(REACH)
        self.bind(pos=self._relayout, size=self._relayout, kind=self._relayout)
        self.bind(reach_format=self._relayout)
        self.bind(target_state=lambda *_: self._redraw_dynamic())
        self._tick = Clock.schedule_interval(self._on_tick, GESTURE_TICK_PERIOD)

    def on_gesture(self, gesture) -> None:  # Kivy default handler
        pass

    def _caption(self, colour: tuple[float, float, float, float]) -> Label:
        label = Label(font_size='13sp', color=colour, size_hint=(None, None), padding=('3dp', 0))
        with label.canvas.before:  # a backdrop: readable over the grid and the region
            Color(*BACKGROUND[:3], 0.75)
            backdrop = Rectangle()
        label.bind(pos=lambda lbl, pos: setattr(backdrop, 'pos', pos))
        label.bind(size=lambda lbl, size: setattr(backdrop, 'size', size))
        label.bind(texture_size=lambda lbl, size: setattr(lbl, 'size', size))
        label.bind(texture_size=lambda *_: self._place_captions())
        self.add_widget(label)
        return label

    # -- geometry

    def set_region(self, region: ReachableRegion) -> None:
        self.region = region
        self._relayout()

    def set_gesture_config(self, config: GestureConfig) -> None:
        self.gesture_config = config
        self.recognizer = GestureRecognizer(self.width, self.height, config)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) base-frame points → (N, 2) view metres."""
        return project_top(points) if self.kind == 'top' else project_side(points, self.azimuth)

    def to_view_m(self, x: float, y: float) -> tuple[float, float]:
        """Local pixel → view metres."""
        return self.mapping.to_m(x, y)

    def _relayout(self, *_args) -> None:
        self.recognizer.resize(self.width, self.height)
        bounds = self.region.bounds() if self.region is not None else (-0.4, -0.4, 0.4, 0.4)
        self.mapping = ViewMapping.fit(
            bounds, max(self.width, 1), max(self.height, 1), margin=0.06
        )
        self._redraw_static()
        self._redraw_dynamic()

    def _px(self, uv: Sequence[float]) -> tuple[float, float]:
        x, y = self.mapping.to_px(uv[0], uv[1])
        return (self.x + x, self.y + y)

    def _redraw_static(self) -> None:
        g = self._static
        g.clear()
        # No background rectangle: the window is cleared to BACKGROUND, and software renderers
        # (Mesa llvmpipe on kiosks without a GPU) pay for every blended pixel drawn twice.
        # A grid of 1-2-5 mm steps at least GRID_MIN_DP apart (the scale bar is one step),
        # and the base axes a little brighter.
        self.grid_mm = scale_step_mm(self.mapping.scale, dp(GRID_MIN_DP))
        step = self.grid_mm / 1000
        u0, v0 = self.mapping.to_m(0, 0)
        u1, v1 = self.mapping.to_m(self.width, self.height)
        g.add(Color(*GRID))
        for k in range(math.floor(u0 / step), math.ceil(u1 / step) + 1):
            x = self._px((k * step, 0))[0]
            g.add(Line(points=[x, self.y, x, self.top], width=dp(1.5) if k == 0 else 1))
        for k in range(math.floor(v0 / step), math.ceil(v1 / step) + 1):
            y = self._px((0, k * step))[1]
            g.add(Line(points=[self.x, y, self.right, y], width=dp(1.5) if k == 0 else 1))
        if self.region is not None:
            vertices: list[float] = []
            indices: list[int] = []
            for quad in self.region.quads():
                base = len(vertices) // 4
                for u, v in quad:
                    x, y = self._px((u, v))
                    vertices += [x, y, 0.0, 0.0]
                indices += [base, base + 1, base + 2, base, base + 2, base + 3]
            if vertices:
                g.add(Color(*REGION))
                g.add(Mesh(vertices=vertices, indices=indices, mode='triangles'))
        self._draw_scale_bar(g)
        self._draw_reach_circle(g)
        self._place_captions()

    def reach_m(self) -> float | None:
        """
        Return the reach circle's radius (m).

        The farthest the tool gets from the base axis. None in the side view, or without a region
        or a ``reach_format``.
        """
        if self.kind != 'top' or self.region is None or not self.reach_format:
            return None
        radii = self.region.rmax[~np.isnan(self.region.rmax)]
        return float(radii.max()) if radii.size else None

    def _draw_scale_bar(self, g: InstructionGroup) -> None:
        # Bottom left: a bar one grid step long with end ticks, its length written above it.
        length = self.grid_mm / 1000 * self.mapping.scale
        x0, y0 = self.x + dp(8), self.y + dp(8)
        tick = dp(5)
        g.add(Color(*SCALE))
        g.add(Line(points=[x0, y0, x0 + length, y0], width=dp(1.5)))
        g.add(Line(points=[x0, y0, x0, y0 + tick], width=dp(1.5)))
        g.add(Line(points=[x0 + length, y0, x0 + length, y0 + tick], width=dp(1.5)))
        self.scale_label.text = f'{self.grid_mm:g} mm'

    def _draw_reach_circle(self, g: InstructionGroup) -> None:
        reach = self.reach_m()
        self.reach_label.opacity = 0 if reach is None else 1
        if reach is None:
            self.reach_label.text = ''
            return
        cx, cy = self._px((0.0, 0.0))
        g.add(Color(*REACH))
        radius = reach * self.mapping.scale
        g.add(Line(circle=(cx, cy, radius), width=1, dash_length=8, dash_offset=5))
        self.reach_label.text = self.reach_format.format(mm=round(reach * 1000))

    def _place_captions(self) -> None:
        """
        Place the scale bar's length above the bar.

        The reach label on the circle where it fits inside the view (the view clips what is
        outside).
        """
        self.scale_label.pos = (self.x + dp(8), self.y + dp(12))
        reach = self.reach_m()
        label = self.reach_label
        if reach is None:
            label.pos = self.pos
            return
        cx, cy = self._px((0.0, 0.0))
        r = reach * self.mapping.scale
        w, h = label.size
        inside = None
        # Upper right first, where the arm of the usual profile points, then round the circle.
        for degrees in (60, 120, 30, 150, 90, 0, 180, -30, -150, -90):
            a = math.radians(degrees)
            # The label's centre just outside the circle: its box touches the circle's
            # tangent at that angle, a few pixels out.
            out = r + w / 2 * abs(math.cos(a)) + h / 2 * abs(math.sin(a)) + dp(3)
            x = cx + out * math.cos(a) - w / 2
            y = cy + out * math.sin(a) - h / 2
            if self.x <= x and x + w <= self.right and self.y + dp(28) <= y and y + h <= self.top:
                inside = (x, y)
                break
        if inside is None:  # the circle runs outside the view: the top right corner
            inside = (self.right - w - dp(4), self.top - h - dp(4))
        label.pos = inside

    # -- state

    def show(
        self,
        skeleton: np.ndarray | None,
        ee: np.ndarray | None,
        target: Pose | None,
        clamp: np.ndarray | None = None,
    ) -> None:
        """
        Draw the arm, its end effector, the target and where the arm stops short of it.

        ``skeleton``: (N, 3) joint origins; ``clamp``: for a target out of reach, where the arm
        will stop instead.
        """
        self._clamp = None if clamp is None else self._target_uv(np.asarray(clamp))
        self._skeleton = None if skeleton is None else self.project(skeleton)
        self._ee = None if ee is None else self.project(np.asarray(ee)[None, :])[0]
        self._target = None if target is None else self._target_uv(target.position)
        self._redraw_dynamic()

    def _target_uv(self, p: np.ndarray) -> np.ndarray:
        if self.kind == 'top':
            return np.array([p[0], p[1]])
        # Targets are shown at their own reach: the arm turns to their azimuth to get there.
        return np.array([math.hypot(p[0], p[1]), p[2]])

    def _redraw_dynamic(self) -> None:
        g = self._dynamic
        g.clear()
        if self._skeleton is not None and len(self._skeleton) > 1:
            pts = [c for p in self._skeleton for c in self._px(p)]
            g.add(Color(*ARM))
            g.add(Line(points=pts, width=dp(5), joint='round', cap='round'))
            g.add(Color(*JOINT))
            r = dp(4)
            for p in self._skeleton[1:-1]:
                x, y = self._px(p)
                g.add(Ellipse(pos=(x - r, y - r), size=(2 * r, 2 * r)))
        if self._ee is not None:
            x, y = self._px(self._ee)
            r = dp(7)
            g.add(Color(*EE))
            g.add(Line(circle=(x, y, r), width=dp(2)))
        if self._target is not None and self._clamp is not None and self.target_state != 'ok':
            # Where the arm will stop: a dot, joined to the target by a dashed line.
            tx, ty = self._px(self._target)
            cx, cy = self._px(self._clamp)
            g.add(Color(*TARGET_COLOURS.get(self.target_state, TARGET_COLOURS['unreachable'])))
            g.add(Line(points=[cx, cy, tx, ty], width=1, dash_length=6, dash_offset=4))
            r = dp(6)
            g.add(Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r)))
        if self._fingers:
            g.add(Color(1, 1, 1, 0.25))
            r = dp(22)
            for fx, fy in self._fingers.values():
                g.add(Line(circle=(self.x + fx, self.y + fy, r), width=dp(2)))
        if self._target is not None:
            # A target beyond the view's edge is drawn on the edge, so it is never lost.
            x, y = self._px(self._target)
            m = dp(16)
            x = min(max(x, self.x + m), self.right - m)
            y = min(max(y, self.y + m), self.top - m)
            self._draw_target(g, x, y)

    def _draw_target(self, g: InstructionGroup, x: float, y: float) -> None:
        state = self.target_state if self.target_state in TARGET_COLOURS else 'ok'
        g.add(Color(*TARGET_COLOURS[state]))
        r = dp(14)
        w = dp(2.5)
        if state == 'ok':
            # A ring with a cross-hair: "go here".
            g.add(Line(circle=(x, y, r), width=w))
            g.add(Line(points=[x - r * 1.5, y, x - r * 0.5, y], width=w))
            g.add(Line(points=[x + r * 0.5, y, x + r * 1.5, y], width=w))
            g.add(Line(points=[x, y - r * 1.5, x, y - r * 0.5], width=w))
            g.add(Line(points=[x, y + r * 0.5, x, y + r * 1.5], width=w))
        elif state == 'clamped':
            # A warning triangle with a bar: "held back at the edge".
            pts = [x, y + r * 1.2, x - r * 1.1, y - r * 0.7, x + r * 1.1, y - r * 0.7]
            g.add(Line(points=pts, width=w, close=True))
            g.add(Line(points=[x, y + r * 0.5, x, y - r * 0.1], width=w))
            g.add(Ellipse(pos=(x - w, y - r * 0.45 - w), size=(2 * w, 2 * w)))
        else:
            # A bold X in a square: "cannot go there".
            g.add(Line(rectangle=(x - r, y - r, 2 * r, 2 * r), width=w))
            g.add(Line(points=[x - r, y - r, x + r, y + r], width=w * 1.4))
            g.add(Line(points=[x - r, y + r, x + r, y - r], width=w * 1.4))

    # -- touches

    def _event(self, touch, kind: str) -> TouchEvent:  # Kivy MotionEvent
        size = None
        pressure = None
        profile = getattr(touch, 'profile', ()) or ()
        if 'shape' in profile and getattr(touch, 'shape', None) is not None:
            w, h = getattr(touch.shape, 'width', 0.0), getattr(touch.shape, 'height', 0.0)
            # Providers report the contact either normalised to the screen or in pixels.
            size = max(w * Window.width, h * Window.height) if max(w, h) <= 1.0 else max(w, h)
        if 'pressure' in profile:
            pressure = getattr(touch, 'pressure', None)
        return TouchEvent(
            touch.uid, touch.x - self.x, touch.y - self.y, time.monotonic(), kind, size, pressure
        )

    def _track(self, ev: TouchEvent) -> None:
        if ev.kind == 'up' or not (0 <= ev.x <= self.width and 0 <= ev.y <= self.height):
            self._fingers.pop(ev.id, None)
        else:
            self._fingers[ev.id] = (ev.x, ev.y)
        self._redraw_soon()

    def _dispatch_all(self, gestures: list) -> None:
        for gesture in gestures:
            self.dispatch('on_gesture', gesture)

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos) or getattr(touch, 'is_mouse_scrolling', False):
            return super().on_touch_down(touch)
        touch.grab(self)
        ev = self._event(touch, 'down')
        self._track(ev)
        self._dispatch_all(self.recognizer.feed(ev))
        return True

    def on_touch_move(self, touch) -> bool:
        if touch.grab_current is self:
            ev = self._event(touch, 'move')
            self._track(ev)
            self._dispatch_all(self.recognizer.feed(ev))
            return True
        return super().on_touch_move(touch)

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is self:
            touch.ungrab(self)
            ev = self._event(touch, 'up')
            self._track(ev)
            self._dispatch_all(self.recognizer.feed(ev))
            return True
        return super().on_touch_up(touch)

    def _on_tick(self, _dt: float) -> None:
        self._dispatch_all(self.recognizer.tick(time.monotonic()))
