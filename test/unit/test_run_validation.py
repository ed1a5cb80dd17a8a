"""
`robot-touch run` checks what the user typed before anything starts.

It answers in its own syntax (--rate, not rate:=); the launch file hears the same problem in
launch syntax.
"""

from __future__ import annotations

import time

import pytest
from robot_touch.cli.main import main
from robot_touch.graph import ConfigError, describe, GraphConfig


@pytest.mark.parametrize(
    ('argv', 'line'),
    [
        (
            ['--duration', '-1'],
            '--duration must be 0 (run until Ctrl-C) or a number of seconds, got -1',
        ),
        (['--rate', '0'], '--rate must be between 10 and 1000 Hz, got 0 (e.g. --rate 100)'),
        (['--rate', 'nan'], '--rate must be between 10 and 1000 Hz, got nan (e.g. --rate 100)'),
        (
            ['--backend', 'serial'],
            '--port is required: backend serial needs a port '
            '(`robot-touch ports` lists the adapters) (e.g. --port /dev/ttyUSB0)',
        ),
        (
            ['--window-size', 'big'],
            "--window-size must be WIDTHxHEIGHT in pixels, got 'big' "
            '(e.g. --window-size 800x1280)',
        ),
        (
            ['--namespace', 'arm 1'],
            "--namespace 'arm 1' is not a valid ROS namespace (e.g. --namespace arm1)",
        ),
        (
            ['--dpi', '20'],
            "--dpi must be 0 (as the screen reports) or the panel's pixels per inch, 60-700, "
            'got 20 (e.g. --dpi 133)',
        ),
    ],
    ids=['duration', 'rate', 'rate-nan', 'serial-without-port', 'window-size', 'namespace', 'dpi'],
)
def test_bad_run_flags_are_one_line_in_cli_syntax_before_anything_starts(
    argv, line, capsys
) -> None:
    started = time.monotonic()
    assert main(['run', *argv]) == 2
    err = capsys.readouterr()
    assert err.err.strip().splitlines() == [f'robot-touch run: error: {line}']
    assert err.out == '', 'nothing started, nothing printed'
    assert time.monotonic() - started < 10


def test_the_launch_file_hears_launch_syntax() -> None:
    with pytest.raises(ConfigError) as err:
        GraphConfig(backend='serial')
    assert (
        str(err.value) == 'port is required: backend serial needs a port '
        '(`robot-touch ports` lists the adapters) (e.g. port:=/dev/ttyUSB0)'
    )
    with pytest.raises(
        ConfigError,
        match=r'control_rate must be between 10 and 1000 Hz, got 0 \(e.g. control_rate:=100\)',
    ):
        GraphConfig(control_rate=0)


@pytest.mark.parametrize(
    ('field', 'line'),
    [
        (
            'output',
            "output must be one of position, trajectory, got 'bogus' (e.g. output:=position)",
        ),
        (
            'backend',
            "backend must be one of virtual, serial, sim, gazebo, got 'bogus' "
            '(e.g. backend:=virtual)',
        ),
    ],
    ids=['output', 'backend'],
)
def test_an_unknown_output_or_backend_is_a_config_error_of_one_line(field: str, line: str) -> None:
    """
    Check that output:=bogus is refused like every other field: a ConfigError of one line.

    The user sees this line where a launch file passes the value on unchecked
    (bringup.launch.py's own ``choices`` answer first; ``robot-touch run`` has no --output).
    """
    with pytest.raises(ConfigError) as err:
        GraphConfig(**{field: 'bogus'})
    assert str(err.value).splitlines() == [line]


def test_the_ui_settings_of_a_touch_panel_reach_the_touch_ui() -> None:
    config = GraphConfig(
        language='vi', enable_mode='hold', window_size='800x1280', fullscreen=True, dpi=210
    )
    ui = next(s for s in describe(config) if s.name == 'touch_ui')
    names = ('language', 'enable_mode', 'window_size', 'fullscreen', 'dpi')
    assert {k: ui.parameters[k] for k in names} == {
        'language': 'vi',
        'enable_mode': 'hold',
        'window_size': '800x1280',
        'fullscreen': True,
        'dpi': 210.0,
    }
    assert isinstance(ui.parameters['dpi'], float), 'the node declares a double'
    plain = next(s for s in describe(GraphConfig()) if s.name == 'touch_ui')
    assert not set(names) & set(plain.parameters), "defaults: the node's own"


def test_robot_touch_ui_takes_the_panel_dpi_like_run(monkeypatch, capsys) -> None:
    import robot_touch.display

    monkeypatch.setattr(robot_touch.display, 'display_answers', lambda: (True, 'display :9'))
    assert main(['ui', '--dpi', '20']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "robot-touch ui: error: --dpi must be 0 (as the screen reports) or the panel's pixels "
        'per inch, 60-700, got 20 (e.g. --dpi 133)'
    ]
