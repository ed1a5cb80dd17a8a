"""
The touch UI's start-up values: bad ones refused in one line, good ones the app's settings.

A bad value's problem names the parameter (the node prefixes "parameter " and exits 2).
"""

from __future__ import annotations

from dataclasses import fields

import pytest
from robot_touch.ui.settings import CHOICES, start_problem, UiSettings

#: the touch_ui node's defaults (config/touch_ui.yaml) that the checks look at
GOOD = {'window_size': '1280x800', 'dpi': 0.0, 'language': 'en', 'enable_mode': 'latched'}


def test_the_defaults_and_every_choice_pass() -> None:
    assert start_problem(GOOD) is None
    for name, allowed in CHOICES.items():
        for value in allowed:
            assert start_problem({**GOOD, name: value}) is None
    assert start_problem({**GOOD, 'window_size': '800x1280', 'dpi': 133.0}) is None


@pytest.mark.parametrize(
    ('change', 'problem'),
    [
        (
            {'window_size': 'big'},
            "window_size must be WIDTHxHEIGHT in pixels (e.g. 1280x800), got 'big'",
        ),
        (
            {'dpi': 20.0},
            "dpi must be 0 (as the screen reports) or the panel's pixels per inch, 60-700, "
            'got 20',
        ),
        ({'language': 'fr'}, "language must be one of en, vi, got 'fr'"),
        ({'enable_mode': 'hold?'}, "enable_mode must be one of latched, hold, got 'hold?'"),
    ],
    ids=['window-size', 'dpi', 'language', 'enable-mode'],
)
def test_a_bad_value_is_one_line_naming_the_parameter(change: dict, problem: str) -> None:
    assert start_problem({**GOOD, **change}) == problem


def test_the_first_problem_is_the_one_told() -> None:
    """Window size, then DPI, then the choices: what the node has always said first."""
    everything_wrong = {'window_size': 'x', 'dpi': 1.0, 'language': 'fr', 'enable_mode': '?'}
    assert start_problem(everything_wrong).startswith('window_size ')
    assert start_problem({**everything_wrong, 'window_size': '800x480'}).startswith('dpi ')
    assert start_problem({**GOOD, 'language': 'fr', 'enable_mode': '?'}).startswith('language ')


def test_settings_are_built_from_the_parameter_values_and_ignore_the_others() -> None:
    values = {
        'language': 'vi',
        'max_publish_rate': 30.0,
        'enable_mode': 'hold',
        'pinch_gain': 0.1,
        'long_press_time': 1.0,
        'double_tap_time': 0.3,
        'jog_speed': 0.02,
        'joint_states_timeout': 2.0,
        'waypoints_file': '/tmp/w.yaml',
        'dpi': 210.0,
        'window_size': '800x1280',  # the window's, not the app's
        'demo': True,
    }
    settings = UiSettings.from_values(values)
    assert {f.name: getattr(settings, f.name) for f in fields(UiSettings)} == {
        name: value for name, value in values.items() if name not in ('window_size', 'demo')
    }


def test_a_missing_setting_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(KeyError, match='jog_speed'):
        UiSettings.from_values({f.name: None for f in fields(UiSettings) if f.name != 'jog_speed'})
