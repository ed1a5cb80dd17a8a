"""The shared graph description: what both launchers start for each backend."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from robot_touch.graph import BACKENDS, command_line, describe, GraphConfig, OUTPUTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ('backend', 'port', 'expected'),
    [
        ('virtual', '', ['virtual_arm', 'serial_bridge', 'teleop', 'touch_ui']),
        ('serial', '/dev/ttyUSB0', ['serial_bridge', 'teleop', 'touch_ui']),
        ('sim', '', ['sim_arm', 'teleop', 'touch_ui']),
        ('gazebo', '', ['teleop', 'touch_ui']),
    ],
    ids=BACKENDS,
)
def test_each_backend_starts_its_hardware_then_teleop_then_ui(
    backend: str, port: str, expected: list[str]
) -> None:
    names = [s.name for s in describe(GraphConfig(backend=backend, port=port))]
    assert names == expected


def test_without_ui_no_window_process() -> None:
    specs = describe(GraphConfig(ui=False))
    assert all(not s.needs_display for s in specs)
    assert 'touch_ui' not in [s.name for s in specs]


def test_virtual_arm_link_is_the_bridge_port_and_is_waited_for() -> None:
    virtual, bridge = describe(GraphConfig(namespace='arm2'))[:2]
    link = virtual.arguments[virtual.arguments.index('--link') + 1]
    assert bridge.parameters['port'] == link
    assert 'arm2' in link
    assert virtual.ready_prefix == 'PORT '


@pytest.mark.parametrize(
    ('kwargs', 'message'),
    [
        ({'backend': 'usb'}, 'backend must be one of'),
        ({'backend': 'serial'}, 'needs a port'),
        ({'namespace': 'arm 1'}, 'not a valid ROS namespace'),
        ({'output': 'velocity'}, 'output must be one of position, trajectory'),
    ],
    ids=['unknown-backend', 'serial-without-port', 'bad-namespace', 'unknown-output'],
)
def test_bad_configuration_is_refused_with_a_reason(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GraphConfig(**kwargs)


def test_command_line_passes_namespace_name_and_typed_parameters() -> None:
    teleop = next(s for s in describe(GraphConfig(demo=True)) if s.name == 'teleop')
    argv = command_line(teleop, namespace='arm1', python='python3')
    assert argv[:2] == ['python3', '-c']
    assert 'from robot_touch.nodes.teleop import main' in argv[2]
    tail = argv[3:]
    assert tail[:5] == ['--ros-args', '-r', '__node:=teleop', '-r', '__ns:=/arm1']
    assert "arm:='so101'" in tail and 'rate:=100.0' in tail
    ui = next(s for s in describe(GraphConfig(demo=True)) if s.name == 'touch_ui')
    assert 'demo:=true' in command_line(ui)


def test_launch_files_use_the_shared_description() -> None:
    """Both launch files parse, and bringup builds its nodes from robot_touch.graph.describe."""
    bringup = ast.parse((ROOT / 'launch' / 'bringup.launch.py').read_text())
    imported = {
        alias.name
        for node in ast.walk(bringup)
        if isinstance(node, ast.ImportFrom) and node.module == 'robot_touch.graph'
        for alias in node.names
    }
    assert {'describe', 'GraphConfig'} <= imported
    for name in ('bringup.launch.py', 'gazebo.launch.py'):
        tree = ast.parse((ROOT / 'launch' / name).read_text())
        assert any(
            isinstance(n, ast.FunctionDef) and n.name == 'generate_launch_description'
            for n in tree.body
        )


@pytest.mark.parametrize('output', OUTPUTS)
def test_teleop_publishes_what_the_output_option_says(output: str) -> None:
    teleop = next(s for s in describe(GraphConfig(output=output)) if s.name == 'teleop')
    assert teleop.parameters['output'] == output
