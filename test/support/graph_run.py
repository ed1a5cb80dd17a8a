"""
Runs of `robot-touch run` as a user starts them, and every process of their graph.

:func:`start_run` starts the runner with no display and stdin not a terminal, its output in a
log file; every child inherits a marker in its environment, so :func:`graph_processes` finds
the whole graph even after a child reparented to PID 1 because the runner died.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys

MARKER = 'ROBOT_TOUCH_TEST_GRAPH'


def graph_processes(token: str) -> list[int]:
    """Return the PIDs of live processes (not zombies) whose environment has ``MARKER=token``."""
    found = []
    needle = f'{MARKER}={token}'.encode()
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / 'environ').read_bytes().split(b'\0'):
                continue
            state = (entry / 'stat').read_text().rsplit(')', 1)[1].split()[0]
        except OSError:
            continue
        if state != 'Z':
            found.append(int(entry.name))
    return found


def kill_leftovers(token: str) -> None:
    for pid in graph_processes(token):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def headless_env(tmp_path: Path, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    env['ROBOT_TOUCH_DATA'] = str(tmp_path / 'data')
    env['PYTHONUNBUFFERED'] = '1'
    env[MARKER] = token
    return env


def start_run(tmp_path: Path, token: str, *args: str) -> subprocess.Popen:
    log = open(tmp_path / f'run_{token[:8]}.log', 'w+')  # closed with the process
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'robot_touch.cli.main',
            'run',
            '--out',
            str(tmp_path / 'out'),
            *args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=headless_env(tmp_path, token),
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def run_log(proc: subprocess.Popen) -> str:
    proc.log.flush()  # type: ignore[attr-defined]
    return Path(proc.log.name).read_text(errors='replace')  # type: ignore[attr-defined]


def graph_up(run: subprocess.Popen) -> bool:
    """Return whether the bridge is connected and teleop runs (or the runner has ended)."""
    log = run_log(run)
    return run.poll() is not None or (
        'connected to' in log and '[teleop]' in log and 'teleop for' in log
    )


#: a node that is not ours publishing the arm's command topic (its namespace by --ros-args)
FOREIGN_COMMANDER = """
import rclpy
from std_msgs.msg import Float64MultiArray
rclpy.init()
node = rclpy.create_node("some_commander")
node.create_publisher(Float64MultiArray, "forward_position_controller/commands", 10)
print("UP", flush=True)
rclpy.spin(node)
"""


def foreign_commander(namespace: str, env: dict[str, str]) -> subprocess.Popen:
    """Start :data:`FOREIGN_COMMANDER` in ``namespace``; returns once it is up (kill it after)."""
    proc = subprocess.Popen(
        [sys.executable, '-c', FOREIGN_COMMANDER, '--ros-args', '-r', f'__ns:=/{namespace}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == 'UP'
    return proc
