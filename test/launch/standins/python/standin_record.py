"""
What every stand-in executable shares: its record file, ROS argument parsing, staying up.

A stand-in writes ``$ROBOT_TOUCH_STANDIN_RECORDS/<tool>-<pid>.json`` when it starts (its argv,
the ROS arguments it was given, the content of its parameter files, the wall time) and again
when it ends (``exited``), so a test can check what the launch file gave it and in which order
the processes ran.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import sys
import threading
import time
from typing import Any

import yaml


def split_ros_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """(plain arguments, ROS arguments): what follows ``--ros-args`` up to ``--`` is ROS's."""
    plain: list[str] = []
    ros: list[str] = []
    inside = False
    for arg in argv:
        if arg == '--ros-args':
            inside = True
        elif arg == '--' and inside:
            inside = False
        elif inside:
            ros.append(arg)
        else:
            plain.append(arg)
    return plain, ros


def parse_ros_args(ros: list[str]) -> dict[str, Any]:
    """Remaps, ``-p`` parameters and parameter files (read now: launch deletes them later)."""
    remaps: dict[str, str] = {}
    params: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    pairs = iter(ros)
    for flag in pairs:
        value = next(pairs, '')
        if flag in ('-r', '--remap'):
            key, _, target = value.partition(':=')
            remaps[key] = target
        elif flag in ('-p', '--param'):
            key, _, text = value.partition(':=')
            params[key] = text
        elif flag == '--params-file':
            files.append({'path': value, 'content': yaml.safe_load(Path(value).read_text())})
    return {
        'namespace': remaps.get('__ns', ''),
        'node': remaps.get('__node', ''),
        'remaps': remaps,
        'params': params,
        'params_files': files,
    }


class Record:
    """The stand-in's record file, written at start and rewritten by :meth:`save`."""

    def __init__(self, tool: str) -> None:
        folder = Path(os.environ['ROBOT_TOUCH_STANDIN_RECORDS'])
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f'{tool}-{os.getpid()}.json'
        plain, ros = split_ros_args(sys.argv[1:])
        self.data: dict[str, Any] = {
            'tool': tool,
            'pid': os.getpid(),
            'argv': sys.argv[1:],
            'args': plain,
            'ros': parse_ros_args(ros),
            'started': time.time(),
            'exited': None,
        }
        self.save()

    def save(self) -> None:
        partial = self.path.with_suffix('.partial')
        partial.write_text(json.dumps(self.data, indent=1))
        partial.replace(self.path)

    def finish(self, code: int = 0) -> int:
        """Record the exit time; returns ``code`` for ``sys.exit``."""
        self.data['exited'] = time.time()
        self.data['exit_code'] = code
        self.save()
        return code


def stay_up(record: Record) -> int:
    """Run until SIGINT or SIGTERM (as launch stops its processes), then record the exit."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    return record.finish(0)
