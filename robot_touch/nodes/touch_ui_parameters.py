"""
The touch_ui node's parameter table, documented in ``config/touch_ui.yaml``.

One entry per parameter: name → (default, description, descriptor ranges), declared read-only
by :func:`robot_touch.nodes._common.declare_parameters` (every one is read once at start-up).
What a descriptor cannot state (a fixed set of values, a window size, a DPI that is 0 or in a
range) is checked after declaring by :func:`robot_touch.ui.settings.start_problem`.
"""

from __future__ import annotations

from robot_touch.nodes._common import float_range, ParameterTable
from robot_touch.ui.settings import CHOICES
from robot_touch.ui.sizing import DPI_RANGE

CONFIG_FILE = 'config/touch_ui.yaml'

PARAMETERS: ParameterTable = {
    'arm': ('so101', 'arm profile: a shipped name (so101) or the path of a profile YAML', {}),
    'language': ('en', f'UI language at start: {" or ".join(CHOICES["language"])}', {}),
    'max_publish_rate': (
        60.0,
        'most target_pose / joint_target messages per second (Hz)',
        {'floating_point_range': float_range(1.0, 500.0)},
    ),
    'enable_mode': (
        'latched',
        'Enable button: latched (toggle) or hold (dead-man, hold to move)',
        {},
    ),
    'pinch_gain': (
        0.08,
        'height change per doubling of the pinch distance (m)',
        {'floating_point_range': float_range(0.001, 1.0)},
    ),
    'long_press_time': (
        0.8,
        'long-press duration that saves a waypoint (s)',
        {'floating_point_range': float_range(0.2, 5.0)},
    ),
    'double_tap_time': (
        0.35,
        'longest gap between the taps of a double tap (s)',
        {'floating_point_range': float_range(0.1, 1.0)},
    ),
    'jog_speed': (
        0.05,
        'tool speed of the Up/Down jog buttons (m/s)',
        {'floating_point_range': float_range(0.001, 0.5)},
    ),
    'joint_states_timeout': (
        0.5,
        "joint_states older than this show 'No joint states' (s)",
        {'floating_point_range': float_range(0.05, 10.0)},
    ),
    'waypoints_file': ('', 'waypoint YAML; empty: <user data>/waypoints/<profile>.yaml', {}),
    'teleop_node': ('teleop', 'name of the teleop node (same namespace) for speed_override', {}),
    'window_size': (
        '1280x800',
        'window size WIDTHxHEIGHT in pixels (800x1280 for a portrait panel)',
        {},
    ),
    'fullscreen': (False, 'fill the screen (a dedicated touch panel)', {}),
    'dpi': (
        0.0,
        "the panel's pixels per inch, for one that reports none or a wrong one "
        '(touch controls are sized in mm from it); 0: as the screen reports',
        # 0 or DPI_RANGE: check_dpi refuses what lies between
        {'floating_point_range': float_range(0.0, DPI_RANGE[1])},
    ),
    'demo': (
        False,
        'play the built-in demo gesture script, save a screenshot, then exit',
        {},
    ),
    'demo_out': ('out', "folder for the demo's screenshot", {}),
}
