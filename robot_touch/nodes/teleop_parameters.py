"""
The ``teleop`` node's parameters: one table, and its declaration.

:data:`PARAMETERS` is declared by :func:`declare_teleop_parameters` (through
:func:`robot_touch.nodes._common.declare_parameters`: read-only unless an entry says
``read_only: False``) and documented in ``config/teleop.yaml``, which
test/integration/test_parameters_documented.py keeps in step with it. The core settings'
ranges are :data:`robot_touch.core.teleop_config.RANGES`, stated once; the node builds the
core's :class:`~robot_touch.core.teleop_config.TeleopConfig` from the declared values.
"""

from __future__ import annotations

from typing import Any

from rclpy.node import Node
from rclpy.parameter import Parameter
from robot_touch.core.teleop_config import RANGES, TeleopConfig
from robot_touch.nodes._common import declare_parameters, float_range, int_range

CONFIG_FILE = 'config/teleop.yaml'
#: defaults of the settings the core takes (TeleopConfig)
_DEFAULTS = TeleopConfig()


def _range(name: str) -> dict[str, Any]:
    """Return the descriptor range of the core setting ``name`` (stated once: core RANGES)."""
    return {'floating_point_range': float_range(*RANGES[name])}


def _workspace_corner(which: str) -> str:
    return (
        f'workspace box {which} corner x y z in the base frame (m); '
        "empty: from the arm's reach"
    )


#: The parameters: name → (default, description, descriptor ranges), declared read-only (read
#: once at start-up) unless marked live; documented in config/teleop.yaml.
PARAMETERS: dict[str, tuple[Any, str, dict[str, Any]]] = {
    'arm': ('so101', 'arm profile name (config/arms/<name>.yaml) or path to a profile YAML', {}),
    'rate': (_DEFAULTS.rate, 'control loop rate (Hz)', _range('rate')),
    'velocity_scale': (
        _DEFAULTS.velocity_scale,
        "scale on the profile's joint velocity limits",
        _range('velocity_scale'),
    ),
    'acceleration_scale': (
        _DEFAULTS.acceleration_scale,
        "scale on the profile's joint acceleration limits",
        _range('acceleration_scale'),
    ),
    'jerk_scale': (
        _DEFAULTS.jerk_scale,
        "scale on the profile's joint jerk limits",
        _range('jerk_scale'),
    ),
    'cartesian_speed': (
        _DEFAULTS.cartesian_speed,
        'Cartesian jog speed limit (m/s)',
        _range('cartesian_speed'),
    ),
    'angular_speed': (
        _DEFAULTS.angular_speed,
        'Cartesian jog angular speed limit (rad/s)',
        _range('angular_speed'),
    ),
    'jog_timeout': (
        _DEFAULTS.jog_timeout,
        'jog/joint_jog input older than this halts the arm (s)',
        _range('jog_timeout'),
    ),
    'joint_states_timeout': (
        _DEFAULTS.joint_states_timeout,
        'joint_states older than this: backend stale, brake and hold (s)',
        _range('joint_states_timeout'),
    ),
    'max_joint_step': (
        _DEFAULTS.max_joint_step,
        "last-resort limit on a joint's change per cycle (rad)",
        _range('max_joint_step'),
    ),
    'singularity_slow': (
        _DEFAULTS.singularity_slow,
        'Jacobian condition number where Cartesian jog starts to slow',
        _range('singularity_slow'),
    ),
    'singularity_stop': (
        _DEFAULTS.singularity_stop,
        'condition number where jog toward the singularity stops',
        _range('singularity_stop'),
    ),
    'singularity_damping': (
        _DEFAULTS.singularity_damping,
        'maximum damping of the least-squares jog solution',
        _range('singularity_damping'),
    ),
    'output': (
        'position',
        'command output: position (forward_position_controller/commands) or '
        'trajectory (arm_controller/joint_trajectory)',
        {},
    ),
    'include_gripper': (
        _DEFAULTS.include_gripper,
        'append the gripper as the last command element',
        {},
    ),
    'start_enabled': (
        _DEFAULTS.start_enabled,
        'command the arm from start-up (else wait for teleop/enable)',
        {},
    ),
    'max_stamp_lead': (
        _DEFAULTS.max_stamp_lead,
        "how far (s) an input's stamp may be ahead of this computer's clock; "
        'later ones are refused',
        _range('max_stamp_lead'),
    ),
    'status_rate': (
        2.0,
        'steady teleop/status publish rate (Hz); changes are published at once',
        {'floating_point_range': float_range(0.1, 100.0)},
    ),
    'realtime_priority': (
        0,
        'SCHED_FIFO priority of the control thread (1-99; 0 = normal scheduling)',
        {'integer_range': int_range(0, 99)},
    ),
    # An array with no default: declared by its type, unset (documented as a commented-out
    # example in config/teleop.yaml).
    'workspace_min': (Parameter.Type.DOUBLE_ARRAY, _workspace_corner('min'), {}),
    'workspace_max': (Parameter.Type.DOUBLE_ARRAY, _workspace_corner('max'), {}),
    # Settable while teleop runs (``read_only: False``; see core/teleop_live_parameters.py).
    'speed_override': (
        _DEFAULTS.speed_override,
        'live speed override: scales velocity limits and jog speeds (0.05-1)',
        {**_range('speed_override'), 'read_only': False},
    ),
    'free_drive_joints': (
        Parameter.Type.STRING_ARRAY,
        'joints teleop/free_drive releases (arm joints and/or the gripper); empty: every '
        'joint teleop commands. Settable live, not while in free drive',
        {'read_only': False},
    ),
}


def declare_teleop_parameters(node: Node) -> dict[str, Any]:
    """
    Declare the parameters of :data:`PARAMETERS` on ``node``.

    :returns: name → value (None: unset); ``free_drive_joints`` as a list (empty when unset).
    :raises RobotTouchError: a value of the wrong type or out of range, naming
        config/teleop.yaml.
    """
    values = declare_parameters(node, PARAMETERS, CONFIG_FILE)
    values['free_drive_joints'] = list(values['free_drive_joints'] or [])
    return values
