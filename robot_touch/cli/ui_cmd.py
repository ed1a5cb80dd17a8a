"""
`robot-touch ui`: open the touch UI for an arm whose graph already runs.

For a graph started without a UI (`robot-touch run` over ssh, without a display, or
`--no-ui`): run this on the machine's own screen. It starts the same touch_ui node the
runner would, with the same namespace and DDS environment, and ends when its window closes.
"""

from __future__ import annotations

import argparse
import os
import sys

from robot_touch.cli.run_cmd import add_ui_arguments, network_or_error, ui_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--arm', default='so101', help='arm profile name or path to its YAML (default so101)'
    )
    parser.add_argument('--namespace', default='', help="ROS namespace of the arm's graph")
    add_ui_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.profile import load_profile
    from robot_touch.display import display_answers
    from robot_touch.errors import RobotTouchError
    from robot_touch.graph import command_line, ConfigError, describe, GraphConfig

    load_profile(args.arm)  # fail early, with the profile's own error
    answers, detail = display_answers()
    if not answers:
        raise RobotTouchError(
            f'{detail}: the touch UI needs a screen (set DISPLAY to it, e.g. DISPLAY=:0)'
        )
    try:
        config = GraphConfig(arm=args.arm, namespace=args.namespace, **ui_settings(args))
    except ConfigError as exc:
        raise RobotTouchError(exc.for_cli()) from None
    spec = next(s for s in describe(config) if s.name == 'touch_ui')
    network_or_error(config.network)
    argv = command_line(spec, config.namespace, python=sys.executable)
    sys.stdout.flush()
    os.execv(sys.executable, argv)  # becomes the UI (with this environment): its exit code is ours
    return 0  # not reached
