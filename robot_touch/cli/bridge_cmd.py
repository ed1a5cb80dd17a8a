"""`robot-touch bridge --arm NAME_OR_PATH --port URL`: run the serial_bridge node."""

from __future__ import annotations

import argparse

from robot_touch.cli.run_cmd import add_network_argument, network_or_error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--arm', default='so101', help='profile name or path to a profile YAML (default so101)'
    )
    parser.add_argument(
        '--port', required=True, help='serial port or pyserial URL (see `robot-touch ports`)'
    )
    parser.add_argument('--protocol', default='', help="servo protocol (default: the profile's)")
    parser.add_argument(
        '--baudrate', type=int, default=0, help="bits per second (default: the profile's)"
    )
    parser.add_argument(
        '--calibration-file', default='', help="calibration YAML (default: the user's file if any)"
    )
    parser.add_argument(
        '--rate', type=float, default=100.0, help='write+read cycles per second (default 100)'
    )
    parser.add_argument(
        '--params-file', help='a ROS parameter YAML (config/serial_bridge.yaml format)'
    )
    parser.add_argument(
        '--no-torque',
        action='store_true',
        help='leave the servos released until the torque service',
    )
    add_network_argument(parser)


def ros_arguments(args: argparse.Namespace) -> list[str]:
    """Return the node's command line for these options."""
    argv = ['serial_bridge', '--ros-args']
    if args.params_file:
        argv += ['--params-file', args.params_file]
    params = {
        'arm': args.arm,
        'port': args.port,
        'protocol': args.protocol,
        'baudrate': args.baudrate,
        'calibration_file': args.calibration_file,
        'rate': float(args.rate),
        'torque_on_start': not args.no_torque,
    }
    for name, value in params.items():
        argv += ['-p', f'{name}:={_yaml_text(value)}']
    return argv


def _yaml_text(value: object) -> str:
    """Return a parameter value as ROS parses it (YAML): strings quoted so "" or "on" stay so."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def run(args: argparse.Namespace) -> int:
    warning = network_or_error(args.network)  # DDS on this host only, unless --network lan
    if warning:
        print(f'robot-touch bridge: WARNING: {warning}', flush=True)
    from robot_touch.nodes.serial_bridge import main

    return main(ros_arguments(args))
