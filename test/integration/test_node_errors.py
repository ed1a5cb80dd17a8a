"""Every node started with a wrong arm says so in one line and exits 2 (no traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest

NODES = ['teleop', 'serial_bridge', 'sim_arm', 'touch_ui', 'recorder']


@pytest.mark.ros
@pytest.mark.timeout(60)
@pytest.mark.parametrize('node', NODES, ids=NODES)
def test_unknown_arm_is_one_line_and_exit_2(node: str) -> None:
    launcher = f'import sys; from robot_touch.nodes.{node} import main; sys.exit(main())'
    result = subprocess.run(
        [sys.executable, '-c', launcher, '--ros-args', '-p', 'arm:=no_such_arm'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    errors = [line for line in result.stderr.splitlines() if 'error:' in line]
    assert len(errors) == 1
    assert errors[0].startswith(f'{node}: error: no_such_arm: unknown arm profile; known: ')


@pytest.mark.ros
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ('node', 'setting', 'config'),
    [
        ('serial_bridge', 'rate:=-5.0', 'config/serial_bridge.yaml'),
        ('sim_arm', 'render_width:=5', 'config/sim_arm.yaml'),
        ('teleop', 'rate:=5.0', 'config/teleop.yaml'),
        ('teleop', 'speed_override:=3.0', 'config/teleop.yaml'),  # settable live, still ranged
        ('teleop', 'workspace_min:=oops', 'config/teleop.yaml'),  # typed, no default
    ],
    ids=[
        'serial_bridge-rate',
        'sim_arm-render_width',
        'teleop-rate',
        'teleop-speed_override',
        'teleop-workspace_min',
    ],
)
def test_out_of_range_parameter_is_one_line_naming_it(
    node: str, setting: str, config: str
) -> None:
    launcher = f'import sys; from robot_touch.nodes.{node} import main; sys.exit(main())'
    result = subprocess.run(
        [sys.executable, '-c', launcher, '--ros-args', '-p', setting],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert 'Traceback' not in result.stderr
    name = setting.split(':=')[0]
    (line,) = [text for text in result.stderr.splitlines() if 'error:' in text]
    assert line.startswith(f'{node}: error: parameter {name}: ') and line.endswith(
        f'see {config})'
    )


@pytest.mark.ros
@pytest.mark.timeout(60)
def test_touch_ui_rejects_a_malformed_window_size_before_opening_a_window() -> None:
    launcher = 'import sys; from robot_touch.nodes.touch_ui import main; sys.exit(main())'
    result = subprocess.run(
        [sys.executable, '-c', launcher, '--ros-args', '-p', 'window_size:=big'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = [text for text in result.stderr.splitlines() if 'error:' in text]
    assert (
        line
        == 'touch_ui: error: parameter window_size must be WIDTHxHEIGHT in pixels '
        "(e.g. 1280x800), got 'big'"
    )
