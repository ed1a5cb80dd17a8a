"""
Put a running RobotTouchApp on a panel and through every mode, checking each.

The panel is a size and a DPI, set live; the check is layout_check.py. Used by test_layout.py
on the session's app and, in a process of its own, on an app for another arm (a Kivy process
has one window).

``pump`` runs one Kivy frame (``EventLoop.idle``).
"""

from __future__ import annotations

from pathlib import Path
import shutil
import time
from typing import Callable

import numpy as np
from robot_touch.ui.i18n import _
from robot_touch.ui.sizing import Panel, touch_min_px
from support.layout_check import Box, check_layout, largest_button_problems, window_box

#: every mode a person sees; the e-stop confirm also shows the dead-man (hold) Enable; the
#: free drive options are Free drive's list open (what it releases: whole arm, gripper, a joint)
STATES = ('cartesian', 'joint', 'waypoints', 'estop_confirm', 'free_drive_options')

Pump = Callable[[], None]


def pump_until(pump: Pump, predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Run frames until ``predicate()`` is true; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pump()
        if predicate():
            return
    raise AssertionError(f'timed out after {timeout} s waiting for {what}')


def settle_layout(app, pump: Pump, frames: int = 60) -> None:
    """Run frames until no widget moves between two of them (a layout takes a few)."""
    last = None
    for _frame in range(frames):
        pump()
        boxes = []
        stack = [app.root]
        while stack:
            w = stack.pop()
            boxes.append((round(w.x, 1), round(w.y, 1), round(w.width, 1), round(w.height, 1)))
            stack.extend(w.children)
        if boxes == last:
            return
        last = boxes
    raise AssertionError(f'the layout did not settle within {frames} frames')


def use_panel(app, pump: Pump, panel: Panel) -> None:
    """Set the window to the panel's size, Kivy's metrics to its DPI."""
    from kivy.core.window import Window
    from robot_touch.ui.app import use_panel_dpi

    use_panel_dpi(panel.dpi)
    Window.size = panel.size
    pump_until(pump, lambda: tuple(Window.size) == panel.size, 5, f'the window at {panel.size}')
    portrait = panel.height > panel.width
    pump_until(pump, lambda: app.portrait == portrait, 5, 'the orientation')


def open_dropdowns() -> list:
    """Return the drop-down lists open on the window (a Spinner's list is the window's child)."""
    from kivy.core.window import Window
    from kivy.uix.dropdown import DropDown

    return [w for w in Window.children if isinstance(w, DropDown)]


def show_free_drive_options(app, pump: Pump, shown: bool) -> None:
    """Open (or close) the list of what Free drive releases, as a tap on it does."""
    scope = app.free_drive_box.ids.scope
    if scope.is_open == shown:
        return
    scope.is_open = shown
    pump_until(pump, lambda: bool(open_dropdowns()) == shown, 5, "Free drive's list")


def enter_state(app, pump: Pump, state: str) -> None:
    """Show the app as a person sees it in ``state``, with the longest texts it shows."""
    show_free_drive_options(app, pump, False)
    app.estop_latched = state == 'estop_confirm'
    if app.hold_to_move != (state == 'estop_confirm'):
        # The dead-man Enable ("Hold to move") is the longest Enable label.
        app.hold_to_move = state == 'estop_confirm'
        app._build_enable(app.root)
    app.set_mode(state if state in ('cartesian', 'joint', 'waypoints') else 'cartesian')
    app.message = ''
    if state == 'cartesian':
        # A target out of reach: the status line says how far short the arm stops.
        pose = app.current_pose()
        reach = float(np.nanmax(app.top_region.rmax))
        pose.position = np.array([0.0, 1.4 * reach, 0.3])
        app.set_target(pose)
        pump_until(pump, lambda: app.target_state == 'unreachable', 5, 'the unreachable target')
    if state == 'waypoints':
        app.waypoints.clear()
        for name in ('pick', 'place', 'P3'):
            app.add_waypoint(name)
        app.selected_waypoint = 'place'
        saved = _('Saved {count} waypoints to {path}')
        app.show_message(saved.format(count=3, path=app.waypoints_path), seconds=60)
    settle_layout(app, pump)
    if state == 'free_drive_options':
        show_free_drive_options(app, pump, True)
        settle_layout(app, pump)


def state_problems(app, panel: Panel) -> list[str]:
    """
    Return what is wrong with the screen as it is.

    Layout_check's findings, and an E-STOP that is not the largest button or less than twice the
    touch minimum either way.
    """
    from kivy.metrics import Metrics

    root = app.root
    problems = check_layout(root, panel.size, panel.dpi, Metrics.density)
    estop = root.ids.estop
    problems += largest_button_problems(root, estop)
    box = window_box(estop)
    least = touch_min_px(panel.dpi, Metrics.density)
    if min(box.w, box.h) < 2 * least - 1:
        problems.append(f'the E-STOP ({box}) is less than twice the touch minimum either way')
    window = Box(0, 0, *panel.size)
    for dropdown in open_dropdowns():  # on the window, not under the app's root
        problems += check_layout(dropdown, panel.size, panel.dpi, Metrics.density)
        box = window_box(dropdown)
        if not window.contains(box):
            problems.append(f'a drop-down list ({box}) reaches outside the window')
    return problems


def walk_panel(
    app,
    pump: Pump,
    panel: Panel,
    lang: str,
    shots: Path | None = None,
) -> tuple[list[str], list[Path]]:
    """
    Every state on ``panel`` in ``lang``.

    The problems ("state: problem" lines) and the screenshots saved to ``shots``
    (``WxH_lang_state.png``).
    """
    from kivy.core.window import Window

    use_panel(app, pump, panel)
    app.set_language(lang)
    found: list[str] = []
    saved: list[Path] = []
    for state in STATES:
        enter_state(app, pump, state)
        found += [f'{state}: {p}' for p in state_problems(app, panel)]
        if shots is not None:
            name = Window.screenshot(name=str(shots / 'shot.png'))
            path = shots / f'{panel.width}x{panel.height}_{lang}_{state}.png'
            shutil.move(name, path)
            saved.append(path)
    return found, saved


def leave_states(app, pump: Pump) -> None:
    """Back to an ordinary screen: no e-stop, latched Enable, Cartesian, no waypoints."""
    show_free_drive_options(app, pump, False)
    app.estop_latched = False
    if app.hold_to_move:
        app.hold_to_move = False
        app._build_enable(app.root)
    app.message = ''
    app.target = None
    app.set_mode('cartesian')
    app.waypoints.clear()
    app._sync_waypoints(select='')
    settle_layout(app, pump)
