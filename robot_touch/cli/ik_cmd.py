"""`robot-touch ik`: inverse kinematics of a list of poses, from a JSON file to a JSON file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

from robot_touch.errors import RobotTouchError

EPILOG = """\
input JSON (--in): a list of poses in the arm's base frame (metres), or {"poses": [...]}.
Each pose is either a 4x4 homogeneous matrix (list of 4 rows)
    [[1, 0, 0, 0.2], [0, 1, 0, 0.0], [0, 0, 1, 0.15], [0, 0, 0, 1]]
or a position and a quaternion (x, y, z, w; normalised for you)
    {"xyz": [0.2, 0.0, 0.15], "quat": [0, 0, 0, 1]}

output JSON (--out): {"arm": NAME, "joint_names": [...], "results": [...]}, one result per
pose, in order:
    {"index": 0, "joints": {"shoulder_pan": 0.1, ...}, "ok": true, "reachable": true,
     "position_error_m": 1e-07, "rotation_error_rad": 2e-07, "distance_m": 0.0,
     "reason": "ok", "solve_time_us": 48.1}
reason is ok | unreachable | joint_limits | no_convergence | invalid_pose. An unreachable
pose still gets the joints of the nearest reachable pose (distance_m away). An invalid pose
(NaN, not a rotation, ...) gets "joints": null and an "error" message.
Each pose is seeded with the previous answer (the first with --seed, or home).

exit status: 0 every pose reached, 1 some pose not reached or invalid, 2 bad arguments or
input file.
"""


class IKInputError(RobotTouchError):
    """The poses file or the seed cannot be used (printed as one line, exit status 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        '--arm', required=True, help='profile name (so101, ...) or path to a profile YAML'
    )
    parser.add_argument(
        '--in', dest='input', required=True, metavar='POSES.json', help='poses file, - for stdin'
    )
    parser.add_argument(
        '--out', default='-', metavar='RESULT.json', help='result file, - for stdout (default)'
    )
    parser.add_argument(
        '--seed',
        metavar='JOINTS',
        help='joints to start from (rad, profile order), comma separated or a JSON list; write '
        '--seed=-0.4,0.3,... when the first value is negative; default: home',
    )


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.kinematics import ArmKinematics
    from robot_touch.core.profile import load_profile

    poses = _read_poses(args.input)
    profile = load_profile(args.arm)
    kin = ArmKinematics(profile)
    seed = _parse_seed(args.seed, profile.dof) if args.seed else None
    results: list[dict[str, Any]] = []
    current = seed
    for index, pose in enumerate(poses):
        entry, answer = _solve_one(kin, index, pose, current)
        if answer is not None:
            current = answer
        results.append(entry)
    out = {'arm': profile.name, 'joint_names': kin.joint_names, 'results': results}
    _write(args.out, out)
    return 0 if all(r['ok'] for r in results) else 1


def _solve_one(kin: Any, index: int, pose: Any, seed: Any) -> tuple[dict[str, Any], Any]:
    """One pose → (result entry, joints to seed the next pose with or None)."""
    from robot_touch.core.kinematics import pose_from_xyz_quat
    from robot_touch.errors import PoseError

    try:
        if isinstance(pose, dict):
            unknown = set(pose) - {'xyz', 'quat'}
            if unknown or 'xyz' not in pose or 'quat' not in pose:
                raise PoseError('a pose object needs exactly "xyz" and "quat" ([x, y, z, w])')
            target = pose_from_xyz_quat(pose['xyz'], pose['quat'])
        else:
            target = pose
        r = kin.ik(target, seed=seed)
    except PoseError as exc:
        return (
            {
                'index': index,
                'joints': None,
                'ok': False,
                'reachable': False,
                'position_error_m': None,
                'rotation_error_rad': None,
                'distance_m': None,
                'reason': 'invalid_pose',
                'error': str(exc),
                'solve_time_us': None,
            },
            None,
        )
    return (
        {
            'index': index,
            'joints': dict(zip(kin.joint_names, (float(v) for v in r.q))),
            'ok': r.ok,
            'reachable': r.reachable,
            'position_error_m': r.position_error,
            'rotation_error_rad': r.rotation_error,
            'distance_m': r.distance,
            'reason': r.reason,
            'solve_time_us': round(r.solve_time_us, 2),
        },
        r.q,
    )


def _read_poses(source: str) -> list[Any]:
    name = 'stdin' if source == '-' else source
    try:
        text = sys.stdin.read() if source == '-' else Path(source).read_text(encoding='utf-8')
    except OSError as exc:
        raise IKInputError(f'cannot read {name}: {exc.strerror}') from None
    except UnicodeDecodeError:
        raise IKInputError(f'{name} is not a UTF-8 text file') from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IKInputError(
            f'{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})'
        ) from None
    if isinstance(data, dict) and 'poses' in data:
        data = data['poses']
    if not isinstance(data, list):
        raise IKInputError(
            f'{name} must hold a list of poses or {{"poses": [...]}} (see robot-touch ik --help)'
        )
    return data


def _parse_seed(text: str, dof: int) -> list[float]:
    try:
        values = (
            json.loads(text)
            if text.strip().startswith('[')
            else [float(v) for v in text.replace(',', ' ').split()]
        )
        seed = [float(v) for v in values]
    except (ValueError, TypeError):
        raise IKInputError(f'--seed must be {dof} numbers, got {text!r}') from None
    if len(seed) != dof or not all(v == v and abs(v) != float('inf') for v in seed):
        raise IKInputError(
            f'--seed must be {dof} finite numbers (rad, profile order), got {text!r}'
        )
    return seed


def _write(target: str, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2) + '\n'
    if target == '-':
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding='utf-8')
    except OSError as exc:
        raise IKInputError(f'cannot write {target}: {exc.strerror}') from None
