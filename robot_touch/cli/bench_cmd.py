"""
`robot-touch bench NAME`: run one benchmark (or `all`) and print its figures.

Each benchmark is a module ``robot_touch.bench.<NAME>`` with ``add_arguments(parser)`` and
``run(args) -> int``. Results print as a table; ``--json FILE`` also writes them as JSON.
"""

from __future__ import annotations

import argparse
import importlib

#: benchmark name → one-line help. A module robot_touch.bench.<name> must exist for each.
BENCHMARKS: dict[str, str] = {
    'ik': (
        'IK success rate and solve time (cold start, 1 mm tracking) vs rtb ik_LM defaults and ikpy'
    ),
    'serial': (
        'write+read cycles per second per protocol against the virtual arm, '
        'next to the wire-time bound'
    ),
    'ui': 'touch UI frame time while the arm moves, and touch event to target_pose latency',
    'teleop': (
        'teleop node: target_pose to first reflecting command latency, '
        'loop period jitter (100/250 Hz)'
    ),
    'e2e': (
        'touch in the UI to the resulting serial goal frame at the virtual arm (so101), p50/p99'
    ),
    'faults': (
        'per fault kind: time to hold and to recover, largest command step and measured '
        'acceleration'
    ),
    'remote': 'tablet via the gateway vs the local UI (target to command/goal frame), gateway CPU',
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest='bench', metavar='NAME')
    for name, help_text in BENCHMARKS.items():
        module = importlib.import_module(f'robot_touch.bench.{name}')
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument('--json', metavar='FILE', help='also write the results as JSON')
        module.add_arguments(p)
        p.set_defaults(_bench=module.run)
    p = sub.add_parser('all', help='every benchmark with its defaults')
    p.set_defaults(_bench=None)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, 'bench', None):
        print('choose a benchmark: ' + ', '.join(list(BENCHMARKS) + ['all']))
        return 2
    if args._bench is not None:
        return args._bench(args)
    status = 0
    for name in BENCHMARKS:
        module = importlib.import_module(f'robot_touch.bench.{name}')
        parser = argparse.ArgumentParser()
        parser.add_argument('--json')
        module.add_arguments(parser)
        print(f'== bench {name}')
        status |= module.run(parser.parse_args([]))
    return status
