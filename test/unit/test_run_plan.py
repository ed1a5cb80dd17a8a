"""
`robot-touch run` decides, before anything starts, whether the UI and the demo run.

The demo never moves a serial-backed arm by itself.
"""

from __future__ import annotations

import argparse

import pytest
from robot_touch.cli import run_cmd
from robot_touch.errors import RobotTouchError


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run_cmd.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_headless_serial_run_starts_no_ui_and_no_demo_and_says_how_to_connect() -> None:
    plan = run_cmd.plan_run(
        args('--backend', 'serial', '--port', '/dev/ttyUSB0'), display=False, terminal=True
    )
    assert (plan.ui, plan.demo, plan.confirm) == (False, False, False)
    text = '\n'.join(plan.notes)
    assert 'holds still until you command it' in text
    assert 'robot-touch ui' in text and 'robot-touch status' in text


@pytest.mark.parametrize('backend', ['virtual', 'sim'])
def test_headless_virtual_or_sim_run_plays_the_demo(backend: str) -> None:
    plan = run_cmd.plan_run(args('--backend', backend), display=False, terminal=False)
    assert plan.ui and plan.demo and not plan.confirm


def test_demo_on_serial_without_a_terminal_needs_the_flag() -> None:
    with pytest.raises(RobotTouchError, match='--yes-move-the-arm'):
        run_cmd.plan_run(
            args('--backend', 'serial', '--port', '/dev/ttyUSB0', '--demo'),
            display=True,
            terminal=False,
        )


def test_demo_on_serial_on_a_terminal_asks_and_the_flag_confirms() -> None:
    asked = run_cmd.plan_run(
        args('--backend', 'serial', '--port', '/dev/ttyUSB0', '--demo'),
        display=False,
        terminal=True,
    )
    assert asked.demo and asked.confirm
    scripted = run_cmd.plan_run(
        args('--backend', 'serial', '--port', '/dev/ttyUSB0', '--demo', '--yes-move-the-arm'),
        display=False,
        terminal=False,
    )
    assert scripted.demo and not scripted.confirm


@pytest.mark.parametrize(
    ('typed', 'confirmed'),
    [('yes', True), (' YES ', True), ('y', False), ('', False), (None, False)],
)
def test_only_a_typed_yes_confirms(typed: str | None, confirmed: bool) -> None:
    def ask(_prompt: str) -> str:
        if typed is None:
            raise EOFError
        return typed

    assert run_cmd.confirm_demo_on_real_arm('/dev/ttyUSB0', ask) is confirmed


def test_with_a_display_a_serial_run_starts_the_ui_without_the_demo() -> None:
    plan = run_cmd.plan_run(
        args('--backend', 'serial', '--port', '/dev/ttyUSB0'), display=True, terminal=True
    )
    assert plan.ui and not plan.demo
