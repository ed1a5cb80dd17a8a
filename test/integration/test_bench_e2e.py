"""
Smoke test of `robot-touch bench e2e`.

The whole graph comes up, a few touches are timed, the table prints and everything stops. No timing
assertions: the figures depend on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.ui, pytest.mark.slow]


@pytest.mark.timeout(150)
def test_bench_e2e_prints_its_table(tmp_path: Path) -> None:
    # A subprocess: the benchmark runs Kivy and rclpy in-process, which a pytest process
    # (possibly holding its own UI fixtures) must not share. No DISPLAY: it starts its own Xvfb.
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    env['ROBOT_TOUCH_DATA'] = str(tmp_path / 'data')
    link = tmp_path / 'arm.tty'
    out_json = tmp_path / 'e2e.json'
    result = subprocess.run(
        [
            sys.executable,
            '-m',
            'robot_touch.cli.main',
            'bench',
            'e2e',
            '--samples',
            '3',
            '--link',
            str(link),
            '--json',
            str(out_json),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    for row in (
        'touch → target_pose',
        'touch → first changed command',
        '(a) touch → first goal frame after that command',
        '(b) touch → first goal frame with changed goals',
    ):
        assert row in result.stdout, result.stdout
    assert out_json.is_file()
    assert not os.path.lexists(link), "the virtual arm's link is removed on exit"
