"""The touch_ui node without its window: parameters, and bad settings refused in one line."""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import subprocess
import sys

import pytest
from robot_touch.graph import describe, GraphConfig
import yaml

pytestmark = pytest.mark.ros

CONFIG = Path(__file__).resolve().parents[2] / 'config' / 'touch_ui.yaml'


@pytest.mark.timeout(60)
def test_every_parameter_is_in_the_yaml_with_a_description():
    """Check the declared parameters against config/touch_ui.yaml and what the graph passes."""
    code = (
        'import rclpy, json\n'
        'from robot_touch.nodes.touch_ui import TouchUiNode\n'
        'rclpy.init()\n'
        'n = TouchUiNode()\n'
        'print(json.dumps({k: [v.value, n.describe_parameter(k).description]'
        ' for k, v in n._parameters.items()'
        " if k not in ('use_sim_time', 'start_type_description_service')}))\n"
    )
    out = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        timeout=50,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    declared = json.loads(out.stdout.strip().splitlines()[-1])
    documented = yaml.safe_load(CONFIG.read_text())['touch_ui']['ros__parameters']
    assert set(declared) == set(documented)
    for name, (default, description) in declared.items():
        assert documented[name] == default, name
        assert description, name
    # The launchers (robot_touch.graph) pass only parameters the node declares.
    every_setting = GraphConfig(
        demo=True,
        language='vi',
        enable_mode='hold',
        window_size='800x480',
        fullscreen=True,
        dpi=133,
    )
    spec = next(s for s in describe(every_setting) if s.name == 'touch_ui')
    assert set(spec.parameters) <= set(declared), set(spec.parameters) - set(declared)


@pytest.mark.parametrize(
    ('args', 'message'),
    [
        (['-p', 'language:=fr'], 'language must be one of en, vi'),
        (['-p', 'enable_mode:=sometimes'], 'enable_mode must be one of latched, hold'),
        (['-p', 'arm:=no_such_arm'], 'unknown arm profile'),
        (['-p', 'max_publish_rate:=0.0'], 'max_publish_rate'),
        (['-p', 'dpi:=20.0'], r"parameter dpi must be 0 \(as the screen reports\) or the panel's"),
    ],
    ids=['language', 'enable-mode', 'arm', 'rate-range', 'dpi'],
)
@pytest.mark.timeout(60)
def test_bad_parameters_give_one_clear_line(args, message):
    out = subprocess.run(
        [sys.executable, '-m', 'robot_touch.nodes.touch_ui', '--ros-args', *args],
        capture_output=True,
        text=True,
        timeout=50,
        env={**os.environ, 'DISPLAY': ''},
    )
    assert out.returncode == 2
    assert re.search(message, out.stderr), out.stderr[-2000:]
    assert 'Traceback' not in out.stderr


@pytest.mark.timeout(60)
def test_a_joint_published_as_nan_keeps_its_last_measured_position():
    # NaN in joint_states = not measured (a silent servo): the UI draws the arm where the joint
    # was last seen, never at NaN
    code = (
        'import rclpy, json, math\n'
        'from sensor_msgs.msg import JointState\n'
        'from robot_touch.nodes.touch_ui import TouchUiNode\n'
        'rclpy.init()\n'
        'n = TouchUiNode()\n'
        "n._on_joint_states(JointState(name=['wrist_roll', 'elbow_flex'], position=[0.5, 0.1]))\n"
        "n._on_joint_states(JointState(name=['wrist_roll', 'elbow_flex'],"
        ' position=[math.nan, 0.2]))\n'
        'print(json.dumps(n.latest_joint_state()[0]))\n'
    )
    out = subprocess.run(
        [sys.executable, '-c', code],
        capture_output=True,
        text=True,
        timeout=50,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    latest = json.loads(out.stdout.strip().splitlines()[-1])
    assert latest == {'wrist_roll': 0.5, 'elbow_flex': 0.2}


def test_the_apps_default_settings_are_the_nodes_defaults():
    """Check that a node started with no parameters gives the app its default settings."""
    from robot_touch.nodes.touch_ui_parameters import PARAMETERS
    from robot_touch.ui.settings import start_problem, UiSettings

    defaults = {name: default for name, (default, _description, _fields) in PARAMETERS.items()}
    assert start_problem(defaults) is None
    assert UiSettings.from_values(defaults) == UiSettings()
