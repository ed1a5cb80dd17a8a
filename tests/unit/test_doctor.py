"""`robot-touch doctor`: each finding comes with its fix; it never crashes."""
from __future__ import annotations

import pytest

from robot_touch import doctor
from robot_touch.cli.main import main


@pytest.mark.timeout(60)
def test_report_on_this_machine_lists_every_check(capsys) -> None:
    code = main(["doctor"])
    out = capsys.readouterr().out
    for name in ("python", "libraries", "ros2", "display", "serial ports", "dialout group", "arm profiles"):
        assert name in out
    assert "so101" in out
    assert code == 0, out


@pytest.mark.timeout(60)
def test_a_missing_rmw_is_a_failure_with_its_fix(monkeypatch) -> None:
    monkeypatch.setenv("RMW_IMPLEMENTATION", "rmw_does_not_exist_cpp")
    check = doctor.check_ros()
    assert check.status == doctor.FAIL
    assert "does not start" in check.detail
    assert "rmw" in check.fix


def test_no_display_and_no_xvfb_says_how_to_get_one(monkeypatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    check = doctor.check_display()
    assert check.status == doctor.WARN
    assert check.fix == "sudo apt-get install xvfb (or run with a screen)"


def test_a_crashing_check_is_reported_not_raised(monkeypatch) -> None:
    def broken() -> doctor.Check:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "CHECKS", [broken])
    (check,) = doctor.run_checks()
    assert check.status == doctor.FAIL and "boom" in check.detail
