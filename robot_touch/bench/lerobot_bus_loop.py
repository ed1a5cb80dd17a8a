"""
LeRobot's bus loop, as a peer of ``robot-touch bench serial`` (and LeRobot-backed tests).

Run by LeRobot's own Python (3.12, with /work/shared/lerobot_interop's ``lrload`` on
PYTHONPATH), never imported there with robot_touch: it uses only the standard library and
LeRobot. ``python lerobot_bus_loop.py PROTOCOL PORT IDS SECONDS`` connects LeRobot's
FeetechMotorsBus (feetech_sts) or DynamixelMotorsBus (dynamixel_p2), then repeats its
control loop's bus part — ``sync_write("Goal_Position")`` of every motor and
``sync_read("Present_Position")`` with the SO follower's 2 read retries — for SECONDS, and
prints one JSON line: cycles, reads that failed even so, elapsed wall time, CPU time of the
process.

:func:`find_lerobot` (imported by robot_touch) says where such a Python is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import time

#: read retries, as LeRobot's SO follower config (num_read_retries) sets them
RETRIES = 2
#: environment overrides: LeRobot's Python, and the folder holding lrload.py
PYTHON_ENV = 'ROBOT_TOUCH_LEROBOT_PYTHON'
INTEROP_ENV = 'ROBOT_TOUCH_LEROBOT_INTEROP'


def find_lerobot(start: Path | None = None) -> tuple[str, str] | None:
    """
    Return (LeRobot's python, lrload's folder), or None when LeRobot cannot be imported.

    From the environment, else an ``lrvenv`` and ``shared/lerobot_interop`` beside the
    repository (a clone next to shared/, or a worktree one level further down).
    """
    here = (start or Path(__file__)).resolve()
    roots = [here.parents[i] for i in (2, 3, 4) if i < len(here.parents)]
    python = os.environ.get(PYTHON_ENV) or next(
        (
            str(p)
            for p in (r / 'lrvenv' / 'bin' / 'python' for r in roots)
            if os.access(p, os.X_OK)
        ),
        None,
    )
    interop = os.environ.get(INTEROP_ENV) or next(
        (
            str(p)
            for p in (r / 'shared' / 'lerobot_interop' for r in roots)
            if (p / 'lrload.py').is_file()
        ),
        None,
    )
    if python is None or interop is None:
        return None
    try:
        probe = subprocess.run(
            [python, '-c', 'import lrload'],
            env={**os.environ, 'PYTHONPATH': interop},
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (python, interop) if probe.returncode == 0 else None


def main(argv: list[str]) -> dict:
    import lrload  # noqa: F401 - LeRobot's motor buses without torch (lerobot_interop README)
    from lrload import DynamixelMotorsBus, FeetechMotorsBus, Motor, MotorNormMode

    protocol, port, ids, seconds = (
        argv[0],
        argv[1],
        [int(i) for i in argv[2].split(',')],
        float(argv[3]),
    )
    if protocol == 'feetech_sts':
        bus = FeetechMotorsBus(
            port, {f'm{i}': Motor(i, 'sts3215', MotorNormMode.DEGREES) for i in ids}
        )
    elif protocol == 'dynamixel_p2':
        bus = DynamixelMotorsBus(
            port, {f'm{i}': Motor(i, 'xm430-w350', MotorNormMode.DEGREES) for i in ids}
        )
    else:
        raise SystemExit(f'LeRobot has no bus for {protocol}')
    bus.connect()
    start = bus.sync_read('Present_Position', normalize=False, num_retry=RETRIES)
    goals = [{name: value + delta for name, value in start.items()} for delta in (-3, 3)]
    cycles = missed = 0
    cpu, wall = time.process_time(), time.perf_counter()
    deadline = wall + seconds
    while time.perf_counter() < deadline:
        bus.sync_write('Goal_Position', goals[cycles % 2], normalize=False)
        try:
            bus.sync_read('Present_Position', normalize=False, num_retry=RETRIES)
        except ConnectionError:  # LeRobot raises where a reply is still missing after the retries
            missed += 1
        cycles += 1
    result = {
        'cycles': cycles,
        'missed': missed,
        'elapsed': time.perf_counter() - wall,
        'cpu': time.process_time() - cpu,
    }
    bus.disconnect(disable_torque=False)
    return result


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1:])))
