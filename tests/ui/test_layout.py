"""The touch UI on the panels people mount (robot_touch/ui/sizing.py: COMMON_PANELS): at each
panel's size and DPI, in English and in the longer Vietnamese, every mode (Cartesian, Joint,
Waypoints, the e-stop confirm with hold-to-move) has no overlapping touch controls, no cut
text, every touch control at least 9 mm on the glass and the E-STOP the largest button.

One app for all of it (the session's, tests/ui/conftest.py): the window is resized and the
panel's DPI applied live, as Kivy allows, rather than an app started per size.
Screenshots of every panel, language and mode go to out/ui_layout/; with
ROBOT_TOUCH_SCREENSHOTS=1 the README's gallery (docs/screenshots/) is refreshed from them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from robot_touch.ui.i18n import _
from robot_touch.ui.sizing import COMMON_PANELS, TOUCH_MIN_MM, Panel, mm_to_px, touch_min_px

from layout_check import check_layout, largest_button_problems, window_box

pytestmark = [pytest.mark.ui, pytest.mark.ros]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "ui_layout"
DOCS = ROOT / "docs" / "screenshots"
STATES = ("cartesian", "joint", "waypoints", "estop_confirm")
#: the screenshots in the README (each in both languages)
GALLERY = {
    ((1280, 800), "cartesian"),
    ((1280, 800), "joint"),
    ((1280, 800), "waypoints"),
    ((800, 480), "cartesian"),
    ((800, 480), "joint"),
    ((1024, 600), "waypoints"),
    ((720, 1280), "joint"),
    ((800, 1280), "estop_confirm"),
}
POSE = {
    "shoulder_pan": 0.5,
    "shoulder_lift": -0.35,
    "elbow_flex": 0.45,
    "wrist_flex": 0.6,
    "wrist_roll": 0.0,
}


@pytest.fixture(scope="module")
def panel_ui(ui):
    """The session's app, given back as it was: 1280x800 at the screen's own DPI, English,
    Cartesian, a latched Enable, no waypoints, no message."""
    from kivy.core.window import Window
    from kivy.metrics import Metrics

    h = ui
    old = Window.size, Metrics.dpi, Metrics.density
    h.peer.send(status="ok", joints=POSE)
    h.wait_for(lambda: abs(h.app.joints["shoulder_pan"] - 0.5) < 1e-9, 5, "the pose")
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield h
    finally:
        Metrics.dpi, Metrics.density = old[1], old[2]
        Window.size = old[0]
        h.app.estop_latched = False
        if h.app.hold_to_move:
            h.app.hold_to_move = False
            h.app._build_enable(h.app.root)
        h.app.message = ""
        h.app.target = None
        h.app.set_language("en")
        h.app.set_mode("cartesian")
        h.app.waypoints.clear()
        h.app._sync_waypoints(select="")
        h.wait_for(lambda: tuple(Window.size) == tuple(old[0]), 5, "the window's size back")
        settle_layout(h)


def settle_layout(h, frames: int = 60) -> None:  # noqa: ANN001
    """Run frames until no widget moves between two of them (a layout takes a few)."""
    last = None
    for _frame in range(frames):
        h.pump()
        boxes = []
        stack = [h.app.root]
        while stack:
            w = stack.pop()
            boxes.append((round(w.x, 1), round(w.y, 1), round(w.width, 1), round(w.height, 1)))
            stack.extend(w.children)
        if boxes == last:
            return
        last = boxes
    raise AssertionError(f"the layout did not settle within {frames} frames")


def use_panel(h, panel: Panel) -> None:  # noqa: ANN001
    from kivy.core.window import Window

    from robot_touch.ui.app import use_panel_dpi

    use_panel_dpi(panel.dpi)
    Window.size = panel.size
    h.wait_for(lambda: tuple(Window.size) == panel.size, 5, f"the window at {panel.size}")
    h.wait_for(lambda: h.app.portrait == (panel.height > panel.width), 5, "the orientation")


def enter_state(h, state: str) -> None:  # noqa: ANN001
    """The app as a person sees it in ``state``, with the longest texts that state shows."""
    app = h.app
    app.estop_latched = state == "estop_confirm"
    if app.hold_to_move != (state == "estop_confirm"):
        # The e-stop confirm also shows the dead-man Enable: the longest Enable label.
        app.hold_to_move = state == "estop_confirm"
        app._build_enable(app.root)
    app.set_mode("cartesian" if state == "estop_confirm" else state)
    if state == "cartesian":
        # A target out of reach: the status line says how far short the arm stops.
        pose = app.current_pose()
        pose.position = np.array([0.0, 0.6, 0.3])
        app.set_target(pose)
        h.wait_for(lambda: app.target_state == "unreachable", 5, "the unreachable target")
    if state == "waypoints":
        app.waypoints.clear()
        for name in ("pick", "place", "P3"):
            app.add_waypoint(name)
        app.selected_waypoint = "place"
        saved = _("Saved {count} waypoints to {path}")
        app.show_message(saved.format(count=3, path=app.waypoints_path), seconds=60)
    else:
        app.message = ""
    settle_layout(h)


def shoot(h, panel: Panel, lang: str, state: str) -> Path:  # noqa: ANN001
    from kivy.core.window import Window

    name = f"{panel.width}x{panel.height}_{lang}_{state}.png"
    saved = Window.screenshot(name=str(SHOTS / "shot.png"))
    path = SHOTS / name
    shutil.move(saved, path)
    if os.environ.get("ROBOT_TOUCH_SCREENSHOTS") and (panel.size, state) in GALLERY:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / f"{panel.width}x{panel.height}_{state}_{lang}.png")
    return path


@pytest.mark.timeout(240)
@pytest.mark.parametrize("lang", ["en", "vi"])
@pytest.mark.parametrize(
    "panel", COMMON_PANELS, ids=[f"{p.width}x{p.height}" for p in COMMON_PANELS]
)
def test_every_control_is_usable_on_the_panel(panel_ui, panel: Panel, lang: str) -> None:
    from kivy.metrics import Metrics
    from PIL import Image

    h = panel_ui
    use_panel(h, panel)
    h.app.set_language(lang)
    least = touch_min_px(panel.dpi, Metrics.density)
    assert h.app.touch == pytest.approx(least) and least >= mm_to_px(TOUCH_MIN_MM, panel.dpi)
    found = []
    for state in STATES:
        enter_state(h, state)
        problems = check_layout(h.app.root, panel.size, panel.dpi, Metrics.density)
        problems += largest_button_problems(h.app.root, h.ids.estop)
        estop = window_box(h.ids.estop)
        if min(estop.w, estop.h) < 2 * least - 1:
            problems.append(f"the E-STOP ({estop}) is less than twice the touch minimum each way")
        path = shoot(h, panel, lang, state)
        img = np.asarray(Image.open(path).convert("RGB"), dtype=float)
        assert (
            img.shape[:2] == (panel.height, panel.width) and img.std() > 20
        ), f"{path} looks blank"
        found += [f"{state}: {p}" for p in problems]
    assert not found, f"{panel.name}, {panel.dpi:.0f} DPI, {lang}:\n" + "\n".join(found)
