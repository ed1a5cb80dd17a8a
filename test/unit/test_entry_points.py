"""Every console script and registered backend of the installed package imports."""

from __future__ import annotations

import importlib
from importlib.metadata import distribution
import subprocess
import sys

import pytest

ENTRY_POINTS = list(distribution('robot_touch').entry_points)


@pytest.mark.parametrize('ep', ENTRY_POINTS, ids=[f'{ep.group}:{ep.name}' for ep in ENTRY_POINTS])
def test_entry_point_target_imports(ep) -> None:
    target = ep.load()
    assert callable(target) or isinstance(target, type)


def test_every_node_has_a_console_script() -> None:
    scripts = {ep.name for ep in ENTRY_POINTS if ep.group == 'console_scripts'}
    assert 'robot-touch' in scripts
    from robot_touch.graph import describe, GraphConfig

    for backend, port in (('virtual', ''), ('sim', '')):
        for spec in describe(GraphConfig(backend=backend, port=port)):
            if spec.ros_node and importlib.util.find_spec(spec.module) is not None:
                assert spec.executable in scripts, (
                    f'{spec.executable} has no console script for `ros2 run`'
                )


@pytest.mark.timeout(60)
def test_cli_help_lists_every_command() -> None:
    from robot_touch.cli.main import COMMANDS

    result = subprocess.run(
        [sys.executable, '-m', 'robot_touch.cli.main', '--help'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert name in result.stdout


def test_unknown_profile_is_one_clear_line(capsys) -> None:
    from robot_touch.cli.main import main

    assert main(['profiles', 'no_such_arm']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert 'no_such_arm: unknown arm profile; known: ' in err[0] and 'so101' in err[0]
