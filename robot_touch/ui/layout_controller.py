"""
The screen's sizes: touch controls for the panel's DPI, gesture thresholds, the mode's panel.

Every touch control is at least 9 mm on the glass (:mod:`robot_touch.ui.sizing`), gestures
need the same finger movement on every panel (thresholds in dp), and the mode's panel (Joint
sliders, Waypoints) goes below the workspace views or, on a short landscape screen, beside
them, as tall as it needs. Followed live: a change of the panel's DPI or density, of the window
size or of the mode lays the screen out again. Part of :class:`robot_touch.ui.app.RobotTouchApp`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from kivy.clock import Clock
from kivy.core.window import Window
from kivy.metrics import dp, Metrics
from kivy.uix.widget import Widget
from robot_touch.core.gestures import GestureConfig
from robot_touch.ui.sizing import density_for_dpi, panel_beside, touch_min_px

if TYPE_CHECKING:
    from robot_touch.ui.app import RobotTouchApp


def use_panel_dpi(dpi: float) -> None:
    """
    Size the UI for a panel of ``dpi`` pixels per inch (0: as the screen reports).

    Kivy's ``Metrics.dpi``, and a density that makes 48 dp at least 9 mm on it
    (:func:`robot_touch.ui.sizing.density_for_dpi`). A density the user set in
    ``KIVY_METRICS_DENSITY`` is kept. The layout follows at once (kv rules use dp strings,
    ``Metrics.dp`` and ``app.touch``).
    """
    if dpi > 0:
        Metrics.dpi = dpi
    if not os.environ.get('KIVY_METRICS_DENSITY'):
        Metrics.density = density_for_dpi(Metrics.dpi)


class LayoutController:
    """The sizes and the mode panel's place on one app's screen."""

    def __init__(self, app: RobotTouchApp) -> None:
        self.app = app
        #: lays the mode's panel out on the next frame (once per frame however often asked)
        self.layout_panel = Clock.create_trigger(lambda _dt: self.update_panel_layout())

    def use_panel(self) -> None:
        """Size the UI for the panel (the ``dpi`` setting) and follow its DPI and density."""
        use_panel_dpi(self.app.settings.dpi)
        self.on_metrics()
        Metrics.bind(dp=self.on_metrics)

    def follow(self, root: Widget) -> None:
        """Lay ``root``'s mode panel out again whenever what it depends on changes."""
        app, ids = self.app, root.ids
        ids.gesture_hint.bind(texture_size=self.layout_panel)
        ids.joint_box.bind(height=self.layout_panel)
        ids.waypoint_buttons.bind(height=self.layout_panel)
        ids.workspace.bind(height=self.layout_panel)
        app.bind(mode=self.layout_panel, portrait=self.layout_panel, touch=self.layout_panel)
        Window.bind(size=self.on_window_size)
        self.on_window_size(Window, Window.size)

    def on_window_size(self, _window: object, size: tuple[int, int]) -> None:
        """Follow the window's aspect: portrait when taller than wide."""
        self.app.portrait = size[1] > size[0]

    def gesture_config(self) -> GestureConfig:
        """Return the gesture thresholds in dp: the same finger movement on every panel."""
        settings = self.app.settings
        return GestureConfig(
            slop_px=dp(8),
            double_tap_px=dp(32),
            palm_size_px=dp(40),
            long_press_s=settings.long_press_time,
            double_tap_s=settings.double_tap_time,
        )

    def on_metrics(self, *_args: object) -> None:
        """Follow a change of the panel's DPI or density: the touch minimum and gestures."""
        app = self.app
        app.touch = touch_min_px(Metrics.dpi, Metrics.density)
        if app.root is not None and 'top_view' in app.root.ids:  # the touch UI is built
            for view in (app.root.ids.top_view, app.root.ids.side_view):
                view.set_gesture_config(self.gesture_config())

    def update_panel_layout(self) -> None:
        """Place the mode's panel (below or beside the views) and set how tall it is."""
        app = self.app
        if app.root is None:
            return
        ids = app.root.ids
        needed = {
            'cartesian': max(app.touch, ids.gesture_hint.texture_size[1] + dp(4)),
            'joint': ids.joint_box.height,
            # the name field and two rows of the list above the buttons, or beside them
            'waypoints': (
                ids.waypoint_buttons.height + 3 * app.touch + dp(14)
                if app.portrait
                else ids.waypoint_buttons.height
            ),
        }[app.mode]
        app.panel_height = needed
        beside = app.mode != 'cartesian' and panel_beside(
            not app.portrait, ids.workspace.height / Metrics.dp, needed / Metrics.dp
        )
        app.panel_beside = beside
