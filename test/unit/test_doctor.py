"""`robot-touch doctor`: each finding comes with its fix; it never crashes."""

from __future__ import annotations

import pytest
from robot_touch import doctor
from robot_touch.cli.main import main


@pytest.mark.timeout(60)
def test_report_on_this_machine_lists_every_check(capsys) -> None:
    code = main(['doctor'])
    out = capsys.readouterr().out
    for name in (
        'python',
        'libraries',
        'ros2',
        'display',
        'serial ports',
        'dialout group',
        'arm profiles',
    ):
        assert name in out
    assert 'so101' in out
    assert code == 0, out


@pytest.mark.timeout(60)
def test_a_missing_rmw_is_a_failure_with_its_fix(monkeypatch) -> None:
    monkeypatch.setenv('RMW_IMPLEMENTATION', 'rmw_does_not_exist_cpp')
    check = doctor.check_ros()
    assert check.status == doctor.FAIL
    assert 'does not start' in check.detail
    assert 'rmw' in check.fix


def test_no_display_and_no_xvfb_says_how_to_get_one(monkeypatch) -> None:
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    monkeypatch.setenv('PATH', '/nonexistent')
    check = doctor.check_display()
    assert check.status == doctor.WARN
    assert check.fix == 'sudo apt-get install xvfb (or run with a screen)'


def test_a_crashing_check_is_reported_not_raised(monkeypatch) -> None:
    def broken() -> doctor.Check:
        raise RuntimeError('boom')

    monkeypatch.setattr(doctor, 'CHECKS', [broken])
    (check,) = doctor.run_checks()
    assert check.status == doctor.FAIL and 'boom' in check.detail


def test_a_display_that_does_not_answer_is_a_warning(monkeypatch, tmp_path) -> None:
    """DISPLAY left over from a closed ssh -X session: set, but nobody answers."""
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    monkeypatch.setenv('DISPLAY', ':987')
    monkeypatch.setenv('XAUTHORITY', str(tmp_path / 'none'))
    check = doctor.check_display()
    assert check.status == doctor.WARN
    assert 'DISPLAY=:987 is set but no X server answers there' in check.detail
    assert 'unset DISPLAY' in check.fix


def test_a_display_that_answers_is_ok(monkeypatch) -> None:
    import shutil

    from robot_touch.display import Xvfb

    if not shutil.which('Xvfb'):
        pytest.skip('Xvfb is not installed (make xvfb)')
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with Xvfb(size='320x240') as xvfb:
        monkeypatch.setenv('DISPLAY', xvfb.display)
        check = doctor.check_display()
    assert check.status == doctor.OK and f'display {xvfb.display} answers' in check.detail


def test_built_in_uarts_are_not_listed_as_arm_ports(monkeypatch) -> None:
    from types import SimpleNamespace

    from serial.tools import list_ports

    ports = [
        SimpleNamespace(device=f'/dev/ttyS{i}', description='n/a', vid=None, pid=None)
        for i in range(4)
    ] + [
        SimpleNamespace(
            device='/dev/ttyACM0', description='USB Single Serial', vid=0x1A86, pid=0x55D3
        )
    ]
    monkeypatch.setattr(list_ports, 'comports', lambda *a, **k: ports)
    check = doctor.check_serial_ports()
    assert '/dev/ttyACM0' in check.detail and 'ttyS' not in check.detail
    monkeypatch.setattr(list_ports, 'comports', lambda *a, **k: ports[:4])
    check = doctor.check_serial_ports()
    assert (
        check.status == doctor.WARN
        and check.detail == 'no arm adapter found (4 built-in UARTs /dev/ttyS* not counted)'
    )
