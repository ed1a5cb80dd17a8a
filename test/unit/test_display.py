"""The Xvfb helper `robot-touch run` uses on machines without a screen."""

from __future__ import annotations

import shutil

import pytest
from robot_touch.display import DisplayError, Xvfb


@pytest.mark.timeout(30)
def test_xvfb_starts_on_a_free_display_and_stops() -> None:
    if not shutil.which('Xvfb'):
        pytest.skip('Xvfb not installed')
    with Xvfb('640x480') as a, Xvfb('640x480') as b:
        assert a.display != b.display, 'two servers never share a display number'
        assert a.process is not None and a.process.poll() is None
        proc = a.process
    assert proc.wait(timeout=5) is not None


def test_without_xvfb_the_error_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setenv('PATH', '/nonexistent')
    with pytest.raises(DisplayError, match='sudo apt-get install xvfb'):
        Xvfb().start()
