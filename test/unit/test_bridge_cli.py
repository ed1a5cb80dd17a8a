"""`robot-touch ports` hints and the command line `robot-touch bridge` gives the node."""

from __future__ import annotations

import argparse

import pytest
from robot_touch.cli import bridge_cmd
from robot_touch.cli.ports_cmd import adapter_hint


@pytest.mark.parametrize(
    'vid, pid, expected',
    [
        (0x1A86, 0x7523, 'CH340'),
        (0x1A86, 0x55D3, 'CH343'),
        (0x0403, 0x6014, 'U2D2'),
        (0x1FFB, 0x0089, 'Pololu Maestro'),
        (0x1234, 0x5678, ''),
        (None, None, ''),
    ],
    ids=['ch340', 'ch343', 'u2d2', 'maestro-any-pid', 'unknown', 'no-usb'],
)
def test_known_adapters_get_a_hint(vid, pid, expected):
    hint = adapter_hint(vid, pid)
    assert (expected in hint) if expected else hint == ''


def test_bridge_command_line_passes_every_option_as_a_typed_parameter():
    parser = argparse.ArgumentParser()
    bridge_cmd.add_arguments(parser)
    argv = bridge_cmd.ros_arguments(
        parser.parse_args(['--port', '/dev/ttyACM0', '--rate', '50', '--no-torque'])
    )
    params = dict(a.split(':=', 1) for a in argv if ':=' in a)
    assert argv[:2] == ['serial_bridge', '--ros-args']
    assert params == {
        'arm': "'so101'",
        'port': "'/dev/ttyACM0'",
        'protocol': "''",  # an empty string, not a missing value
        'baudrate': '0',
        'calibration_file': "''",
        'rate': '50.0',
        'torque_on_start': 'false',
    }


def test_config_yaml_lists_every_node_parameter_with_its_default():
    pytest.importorskip('rclpy')
    from robot_touch.nodes.serial_bridge import PARAMETERS
    from robot_touch.paths import share_dir
    import yaml

    config = yaml.safe_load((share_dir() / 'config' / 'serial_bridge.yaml').read_text())
    documented = config['serial_bridge']['ros__parameters']
    assert documented == {name: default for name, (default, _text, _ranges) in PARAMETERS.items()}
