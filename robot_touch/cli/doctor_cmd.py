"""`robot-touch doctor`: report what is there and what is missing, each with its fix."""
from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from robot_touch.doctor import FAIL, run_checks

    checks = run_checks()
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"[{c.status:>4}] {c.name:<{width}}  {c.detail}")
            if c.fix:
                print(f"       {'':<{width}}  fix: {c.fix}")
    return 1 if any(c.status == FAIL for c in checks) else 0
