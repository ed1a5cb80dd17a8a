"""Screenshots of every mode in both languages, and one in portrait.

They go to a temporary folder; with ROBOT_TOUCH_SCREENSHOTS=1 to docs/screenshots/ (the
pictures in the documentation are made this way).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ui, pytest.mark.ros]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
POSE = {"shoulder_pan": 0.5, "shoulder_lift": -0.35, "elbow_flex": 0.45, "wrist_flex": 0.6, "wrist_roll": 0.0}


@pytest.fixture
def out_dir(tmp_path):
    if os.environ.get("ROBOT_TOUCH_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        return DOCS
    return tmp_path


def shoot(h, path: Path, tmp: Path) -> None:
    from kivy.core.window import Window

    h.app.message = ""
    h.settle(0.25)
    name = Window.screenshot(name=str(tmp / "shot.png"))
    shutil.move(name, path)


@pytest.mark.timeout(60)
def test_screenshots(ui, out_dir, tmp_path):
    from kivy.core.window import Window
    from PIL import Image

    h = ui
    h.peer.send(status="ok", joints=POSE)
    h.wait_for(lambda: abs(h.app.joints["shoulder_pan"] - 0.5) < 1e-9, 5, "the pose")
    h.app.waypoints.clear()
    for name in ("pick", "place", "P3"):
        h.app.add_waypoint(name)
    h.app.selected_waypoint = "place"
    shots = []
    for lang in ("en", "vi"):
        h.app.set_language(lang)
        for mode in ("cartesian", "joint", "waypoints"):
            h.app.set_mode(mode)
            if mode == "cartesian":
                # A target beside the arm, inside the region.
                pose = h.app.current_pose()
                pose.position = pose.position + np.array([0.05, -0.06, -0.04])
                h.app.set_target(pose)
            path = out_dir / f"{mode}_{lang}.png"
            shoot(h, path, tmp_path)
            shots.append(path)
    # Portrait, Vietnamese, with an unreachable target.
    old = Window.size
    try:
        Window.size = (800, 1280)
        h.wait_for(lambda: h.app.portrait, 5, "portrait")
        h.app.set_mode("cartesian")
        pose = h.app.current_pose()
        pose.position = np.array([0.0, 0.6, 0.3])
        h.app.set_target(pose)
        path = out_dir / "portrait_vi.png"
        shoot(h, path, tmp_path)
        shots.append(path)
    finally:
        Window.size = old
        h.app.set_language("en")
        h.app.waypoints.clear()
        h.app._sync_waypoints(select="")
        h.wait_for(lambda: not h.app.portrait, 5, "landscape")
    for path in shots:
        img = np.asarray(Image.open(path).convert("RGB"), dtype=float)
        assert img.shape[0] > 700 and img.std() > 20, f"{path.name} looks blank"
