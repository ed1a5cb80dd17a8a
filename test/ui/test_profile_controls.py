"""
The real window offers only what the arm has.

OpenMANIPULATOR-X shows no wrist-roll hint, an arm without a gripper shows no Open/Close. Kivy
allows one window per process, so each arm's window is built in a process of its own (on the
session's Xvfb).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ui

BUILD = """
import json, os, sys
os.environ["KIVY_NO_ARGS"] = "1"
from kivy.config import Config
Config.set("graphics", "width", "1280"); Config.set("graphics", "height", "800")
from robot_touch.core.profile import load_profile
from robot_touch.ui.app import RobotTouchApp

class Backend:
    def __getattr__(self, name):
        return lambda *a, **k: None if name.startswith(("latest", "take")) else True

import dataclasses
name, _, variant = sys.argv[1].partition(":")
profile = load_profile(name)
if variant == "no_gripper":  # the same arm with its gripper taken off
    profile = dataclasses.replace(profile, gripper=None)
app = RobotTouchApp(backend=Backend(), profile=profile)
root = app.build()
app.root = root
texts = []
def walk(w):
    texts.append(getattr(w, "text", "") or "")
    for c in w.children:
        walk(c)
walk(root)
print(json.dumps({"ids": sorted(root.ids.keys()), "texts": texts,
                  "gripper_shown": root.ids.gripper_box.parent is not None}))
"""


def build(xdisplay: str, arm: str) -> dict:
    out = subprocess.run(
        [sys.executable, '-c', BUILD, arm],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, 'DISPLAY': xdisplay, 'KIVY_NO_CONSOLELOG': '1'},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(120)
def test_open_manipulator_shows_no_wrist_roll_and_so101_does(xdisplay: str) -> None:
    omx = build(xdisplay, 'open_manipulator_x')
    assert not any('Twist' in t for t in omx['texts'])
    assert any(
        t.startswith('Drag: move · Double-tap: go there · Pinch: height · Long-press')
        for t in omx['texts']
    )
    so101 = build(xdisplay, 'so101')
    assert any('Twist: wrist roll' in t for t in so101['texts']) and so101['gripper_shown']


@pytest.mark.timeout(120)
def test_an_arm_without_a_gripper_shows_no_open_close(xdisplay: str) -> None:
    shown = build(xdisplay, 'so101:no_gripper')
    assert not shown['gripper_shown']
    assert (
        'Open' not in shown['texts']
        and 'Close' not in shown['texts']
        and 'Gripper' not in shown['texts']
    )
