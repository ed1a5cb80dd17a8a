"""The touch app's run in its window: the exit code a demo earned, and a quiet Kivy log."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from robot_touch.ui.windowed import quiet_kivy_logging, release_kinematics, WindowedRun


def run_with(demo: object | None, interrupted: bool = False) -> WindowedRun:
    """Return a run that ended with ``demo`` (None: no demo asked for)."""
    run = WindowedRun()
    run.demo, run.interrupted = demo, interrupted
    return run


def test_without_a_demo_the_exit_code_is_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_with(None).exit_code() == 0
    assert run_with(None, interrupted=True).exit_code() == 0
    assert capsys.readouterr().out == ''


def test_a_demo_gives_its_own_exit_code_when_it_ended_or_failed() -> None:
    assert run_with(SimpleNamespace(finished=True, exit_code=0)).exit_code() == 0
    assert run_with(SimpleNamespace(finished=True, exit_code=1)).exit_code() == 1
    # failed, then the app stopped before the end: the failure is the answer
    assert run_with(SimpleNamespace(finished=False, exit_code=1), True).exit_code() == 1


def test_a_demo_stopped_before_its_end_says_so_and_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    unfinished = SimpleNamespace(finished=False, exit_code=0)
    assert run_with(unfinished).exit_code() == 1
    assert capsys.readouterr().out == 'demo: interrupted before its end\n'
    assert run_with(unfinished, interrupted=True).exit_code() == 130  # Ctrl-C


def test_kivy_logs_as_a_log_without_colour_codes_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv('KIVY_LOG_MODE', raising=False)
    monkeypatch.setenv('TERM', 'xterm-256color')
    quiet_kivy_logging(terminal=True)
    assert (os.environ['KIVY_LOG_MODE'], os.environ['TERM']) == ('MIXED', 'xterm-256color')
    monkeypatch.setenv('KIVY_LOG_MODE', 'PYTHON')  # the user's own choice stays
    quiet_kivy_logging(terminal=False)
    assert (os.environ['KIVY_LOG_MODE'], os.environ['TERM']) == ('PYTHON', 'dumb')


def test_the_solver_is_released_and_no_app_is_nothing_to_release() -> None:
    app = SimpleNamespace(kinematics=object())
    release_kinematics(app)
    assert app.kinematics is None
    release_kinematics(None)
    run = WindowedRun()
    run.release()  # Kivy failed before the app was made
