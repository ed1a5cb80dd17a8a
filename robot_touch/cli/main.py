"""
`robot-touch`: one command-line entry point with a subcommand per task.

Each subcommand lives in its own module under ``robot_touch.cli`` and provides
``add_arguments(parser)`` and ``run(args) -> int``. Modules keep heavy imports (rtb, rclpy,
Kivy, MuJoCo) inside ``run`` so that ``robot-touch --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from robot_touch import __version__
from robot_touch.cli.operator_cmd import ACTIONS as OPERATOR_ACTIONS
from robot_touch.errors import RobotTouchError

#: subcommand → (module under robot_touch.cli, one-line help). Add new commands here.
COMMANDS: dict[str, tuple[str, str]] = {
    'profiles': ('profiles_cmd', 'list the arm profiles, or show one'),
    'ik': (
        'ik_cmd',
        'inverse kinematics of poses from a JSON file (joints, errors, reachability)',
    ),
    'bench': ('bench_cmd', 'run a benchmark (ik, teleop, serial, ui, e2e)'),
    'run': ('run_cmd', 'start the whole graph: arm backend, teleop and touch UI'),
    'doctor': ('doctor_cmd', 'check this machine: ROS 2, display, serial ports, profiles'),
    'bridge': ('bridge_cmd', 'run the serial bridge node: the real arm on a serial port'),
    'ports': ('ports_cmd', 'list serial ports with USB ids and what adapter they probably are'),
    'calibrate': ('calibrate_cmd', 'calibrate an arm by hand: zero pose, directions, ranges'),
    'virtual-arm': ('virtual_arm_cmd', "emulate an arm's servo controller on a pseudo-terminal"),
    'pair': ('pair_cmd', "pair a tablet: the gateway's URL, token, fingerprint (text, QR, JSON)"),
    'sim': (
        'sim_cmd',
        'simulate an arm in MuJoCo: try a pose, measure the speed, render a PNG, '
        'or run the sim_arm node',
    ),
    'ui': (
        'ui_cmd',
        'open the touch UI for an arm whose graph already runs '
        '(e.g. `robot-touch run` without a display)',
    ),
    'status': (
        'operator_cmd',
        "the running arm's status: e-stop, enable, bridge, rates (like run's status line)",
    ),
    **{
        name: ('operator_cmd', text) for name, (_service, _value, text) in OPERATOR_ACTIONS.items()
    },
    'free-drive': (
        'free_drive_cmd',
        "free drive (teach by hand): on releases the arm's joints to be moved by hand, "
        'off holds them where they are',
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='robot-touch', description='Drive a robot arm from a touchscreen.'
    )
    parser.add_argument('--version', action='version', version=f'robot-touch {__version__}')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(f'robot_touch.cli.{module_name}')
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the subcommand; user errors print one line and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, '_run', None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except RobotTouchError as exc:
        print(f'robot-touch {args.command}: error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
