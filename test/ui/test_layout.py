"""
The touch UI on the panels people mount (robot_touch/ui/sizing.py: COMMON_PANELS).

At each panel's size and DPI, in English and in the longer Vietnamese, every mode (Cartesian,
Joint, Waypoints, the e-stop confirm with hold-to-move) has no overlapping touch controls, no cut
text, every touch control at least 9 mm on the glass and the E-STOP the largest button.

One app for all of it (the session's, test/ui/conftest.py): the window is resized and the
panel's DPI applied live, as Kivy allows, rather than an app started per size. Another arm
(six joints) gets one process of its own for the smallest panels.
Screenshots of every panel, language and mode go to out/ui_layout/; with
ROBOT_TOUCH_SCREENSHOTS=1 the README's gallery (docs/screenshots/) is refreshed from them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import pytest
from robot_touch.ui.sizing import COMMON_PANELS, mm_to_px, Panel, TOUCH_MIN_MM, touch_min_px
from support.panel_walk import leave_states, pump_until, walk_panel

pytestmark = [pytest.mark.ui, pytest.mark.ros]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHOTS = ROOT / 'out' / 'ui_layout'
DOCS = ROOT / 'docs' / 'screenshots'
#: the screenshots in the README (each in both languages)
GALLERY = {
    ((1280, 800), 'cartesian'),
    ((1280, 800), 'joint'),
    ((1280, 800), 'waypoints'),
    ((800, 480), 'cartesian'),
    ((800, 480), 'joint'),
    ((1024, 600), 'waypoints'),
    ((720, 1280), 'joint'),
    ((800, 1280), 'estop_confirm'),
}
POSE = {
    'shoulder_pan': 0.5,
    'shoulder_lift': -0.35,
    'elbow_flex': 0.45,
    'wrist_flex': 0.6,
    'wrist_roll': 0.0,
}


@pytest.fixture(scope='module')
def panel_ui(ui):
    """
    Provide the session's app, given back as it was.

    1280x800 at the screen's own DPI, English, Cartesian, a latched Enable, no waypoints, no
    message.
    """
    from kivy.core.window import Window
    from kivy.metrics import Metrics

    h = ui
    old = Window.size, Metrics.dpi, Metrics.density
    h.peer.send(status='ok', joints=POSE)
    h.wait_for(lambda: abs(h.app.joints['shoulder_pan'] - 0.5) < 1e-9, 5, 'the pose')
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield h
    finally:
        Metrics.dpi, Metrics.density = old[1], old[2]
        Window.size = old[0]
        h.app.set_language('en')
        pump_until(h.pump, lambda: tuple(Window.size) == tuple(old[0]), 5, 'the size back')
        leave_states(h.app, h.pump)


@pytest.mark.timeout(240)
@pytest.mark.parametrize('lang', ['en', 'vi'])
@pytest.mark.parametrize(
    'panel', COMMON_PANELS, ids=[f'{p.width}x{p.height}' for p in COMMON_PANELS]
)
def test_every_control_is_usable_on_the_panel(panel_ui, panel: Panel, lang: str) -> None:
    from kivy.metrics import Metrics
    from PIL import Image

    h = panel_ui
    found, shots = walk_panel(h.app, h.pump, panel, lang, SHOTS)
    least = touch_min_px(panel.dpi, Metrics.density)
    assert h.app.touch == pytest.approx(least) and least >= mm_to_px(TOUCH_MIN_MM, panel.dpi)
    for path in shots:
        img = np.asarray(Image.open(path).convert('RGB'), dtype=float)
        assert img.shape[:2] == (panel.height, panel.width) and img.std() > 20, f'{path} blank'
        size, state = (panel.width, panel.height), path.stem.split('_', 2)[2]
        if os.environ.get('ROBOT_TOUCH_SCREENSHOTS') and (size, state) in GALLERY:
            DOCS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS / f'{panel.width}x{panel.height}_{state}_{lang}.png')
    assert not found, f'{panel.name}, {panel.dpi:.0f} DPI, {lang}:\n' + '\n'.join(found)


# A six-joint arm (servo6) in an app of its own: the most joint sliders, no wrist-roll hint.
OTHER_ARM = """
import json, os, sys, time
sys.path.insert(0, sys.argv[1])  # test/, for the support package
os.environ["KIVY_NO_ARGS"] = "1"
from kivy.config import Config
Config.set("graphics", "width", "800"); Config.set("graphics", "height", "480")
Config.set("graphics", "resizable", "1")
from kivy.base import EventLoop
from robot_touch.core.profile import load_profile
from robot_touch.ui.app import RobotTouchApp, UiSettings
from robot_touch.ui.embedded import start_embedded
from robot_touch.ui.sizing import COMMON_PANELS
from support.panel_walk import walk_panel

profile = load_profile(sys.argv[2])

class Backend:
    # The arm at home, teleop answering: what the screens show with an arm connected.
    def latest_joint_state(self):
        return dict(zip(profile.joint_names, profile.home)), time.monotonic()
    def latest_status(self):
        return ("ok", time.monotonic())
    def latest_status_values(self):
        return {}
    def take_answers(self):
        return []
    def command_rate(self):
        return 0.0
    def __getattr__(self, name):
        return lambda *args, **kwargs: True

# Started for the Touch Display 2 as `--dpi 210` would: the settings' DPI sizes the UI.
app = RobotTouchApp(backend=Backend(), profile=profile, settings=UiSettings(dpi=209.8))
start_embedded(app)
from kivy.metrics import Metrics
print("STARTED " + json.dumps({"touch": app.touch, "density": Metrics.density}), flush=True)
found = {}
for panel in COMMON_PANELS:
    if panel.size in ((800, 480), (720, 1280)):
        for lang in ("en", "vi"):
            problems, _ = walk_panel(app, EventLoop.idle, panel, lang)
            found[f"{panel.width}x{panel.height} {lang}"] = problems
print("FOUND " + json.dumps(found), flush=True)
os._exit(0)
"""


@pytest.mark.timeout(180)
def test_a_six_joint_arm_started_at_a_dpi_fits_the_smallest_panels(
    xdisplay: str, tmp_path: Path
) -> None:
    env = {**os.environ, 'DISPLAY': xdisplay, 'ROBOT_TOUCH_DATA': str(tmp_path)}
    out = subprocess.run(
        [
            sys.executable,
            '-c',
            OTHER_ARM,
            str(HERE.parent),
            'servo6',
        ],  # test/: the support package
        capture_output=True,
        text=True,
        timeout=170,
        env=env,
    )
    line = next((x for x in out.stdout.splitlines() if x.startswith('FOUND ')), None)
    assert line is not None, (out.stdout + out.stderr)[-3000:]
    started = next(x for x in out.stdout.splitlines() if x.startswith('STARTED '))
    started = json.loads(started[len('STARTED '):])
    assert started['density'] == pytest.approx(1.549, abs=1e-3)
    assert started['touch'] == pytest.approx(mm_to_px(TOUCH_MIN_MM, 209.8)), '74 px: 9 mm'
    found = json.loads(line[len('FOUND '):])
    assert set(found) == {'800x480 en', '800x480 vi', '720x1280 en', '720x1280 vi'}
    report = [f'{key}: {p}' for key, problems in found.items() for p in problems]
    assert not report, '\n'.join(report)


@pytest.mark.timeout(60)
def test_the_views_say_what_they_show(panel_ui) -> None:
    from kivy.metrics import dp
    from robot_touch.ui.sizing import scale_step_mm
    from support.panel_walk import use_panel

    h = panel_ui
    top, side = h.ids.top_view, h.ids.side_view
    reach_mm = round(float(np.nanmax(h.app.top_region.rmax)) * 1000)
    assert 300 < reach_mm < 600, 'the SO-101 reaches about 0.44 m'
    for panel in (COMMON_PANELS[0], COMMON_PANELS[3]):
        use_panel(h.app, h.pump, panel)
        texts = (('en', f'reach {reach_mm} mm'), ('vi', f'tầm với {reach_mm} mm'))
        for lang, reach_text in texts:
            h.app.set_language(lang)
            h.pump(3)
            for view in (top, side):
                # The scale bar is one grid step, the shortest 1-2-5 mm step of 40 dp or more.
                step = scale_step_mm(view.mapping.scale, dp(40))
                assert view.grid_mm == step and view.scale_label.text == f'{step} mm'
                assert view.scale_label.opacity == 1 and view.scale_label.width > 0
            assert top.reach_label.text == reach_text and top.reach_label.opacity == 1
            assert side.reach_label.opacity == 0, "the reach circle is the top view's"
    h.app.set_language('en')
