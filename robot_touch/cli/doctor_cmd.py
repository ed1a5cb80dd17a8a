"""
`robot-touch doctor`: report what is there and what is missing, each with its fix.

``--port URL`` inspects a servo bus instead (read-only): which servos answer and the
settings each holds (:mod:`robot_touch.protocols.inspect`).
"""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    parser.add_argument('--port', help='inspect the servos on this port instead (read-only)')
    parser.add_argument(
        '--arm', default='so101', help='with --port: the arm profile (default so101)'
    )


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    if args.port:
        from robot_touch.core.profile import load_profile
        from robot_touch.protocols.inspect import inspect_port

        answered, lines = inspect_port(load_profile(args.arm), args.port)
        print('\n'.join(lines))
        return 0 if answered else 1

    from robot_touch.doctor import FAIL, run_checks

    checks = run_checks()
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f'[{c.status:>4}] {c.name:<{width}}  {c.detail}')
            if c.fix:
                print(f'       {"":<{width}}  fix: {c.fix}')
    return 1 if any(c.status == FAIL for c in checks) else 0
