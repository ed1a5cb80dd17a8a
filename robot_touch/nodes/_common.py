"""
Boilerplate the spinning nodes share.

Their ``main()`` (rclpy init, spin, clean shutdown on Ctrl-C) and parameter-descriptor ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
import sys
from typing import Any, Callable, Mapping, Sequence, TypeVar

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from robot_touch.core.trajectory import start_delay
from robot_touch.errors import RobotTouchError

NodeT = TypeVar('NodeT', bound=Node)


def float_range(low: float, high: float) -> list[FloatingPointRange]:
    """Return ``ParameterDescriptor.floating_point_range`` for ``low``..``high``, any value."""
    return [FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]


def int_range(low: int, high: int) -> list[IntegerRange]:
    """Return ``ParameterDescriptor.integer_range`` for ``low``..``high``."""
    return [IntegerRange(from_value=low, to_value=high, step=1)]


#: a node's parameter table: name → (default, description, descriptor ranges)
ParameterTable = Mapping[str, tuple[Any, str, Mapping[str, Any]]]


def declare_parameters(node: Node, table: ParameterTable, config_file: str) -> dict[str, Any]:
    """
    Declare every parameter of ``table`` with its description and ranges.

    Parameters are read-only unless their entry's descriptor fields say ``read_only: False``
    (settable while the node runs; the node's set-parameters callback checks them). A default
    given as a ``Parameter.Type`` declares the parameter by its type, unset (value None).

    :returns: name → value (the launch/command-line value, the default, or None when unset).

    :raises RobotTouchError: a value of the wrong type or out of range, in one line naming the
        parameter, an example and ``config_file``.
    """
    values: dict[str, Any] = {}
    for name, (default, description, fields) in table.items():
        descriptor = ParameterDescriptor(
            **{'description': description, 'read_only': True, **fields}
        )
        try:
            values[name] = node.declare_parameter(name, default, descriptor).value
        except (InvalidParameterTypeException, InvalidParameterValueException) as exc:
            if isinstance(default, Parameter.Type):
                example = f'{name}:="[...]"'
            elif isinstance(default, str):
                example = f'{name}:=...'
            else:
                example = f'{name}:={default!r}'
            raise RobotTouchError(
                f'parameter {name}: {exc} (for example {example}; see {config_file})'
            ) from None
    return values


@dataclass(frozen=True)
class TrajectoryRequest:
    """A ``trajectory_msgs/JointTrajectory`` as plain values, its start made a delay from now."""

    names: list[str]
    times: list[float]
    positions: list[list[float]]
    velocities: list[list[float]]
    accelerations: list[list[float]]
    delay: float


def trajectory_request(msg: Any, now: float) -> TrajectoryRequest:
    """
    Translate a JointTrajectory message received at ``now`` (ROS time, s).

    The start delay follows :func:`robot_touch.core.trajectory.start_delay` (a zero stamp or
    one in the past: now), the same for every backend.

    :raises TrajectoryError: a stamp that is not finite.
    """
    points = msg.points
    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    return TrajectoryRequest(
        names=list(msg.joint_names),
        times=[p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in points],
        positions=[list(p.positions) for p in points],
        velocities=[list(p.velocities) for p in points],
        accelerations=[list(p.accelerations) for p in points],
        delay=start_delay(stamp, now),
    )


#: what a name token of ROS may hold (a joint name becomes a service name's last part)
_NAME_TOKEN = re.compile(r'[A-Za-z][A-Za-z0-9_]*')


def joint_torque_services(
    node: Node, joints: Sequence[str], switch: Callable[[str, bool], tuple[bool, str]]
) -> list[str]:
    """
    Serve ``torque/<joint>`` (std_srvs/SetBool) for each of ``joints``.

    ``switch(joint, on)`` answers (success, message). A joint whose name cannot be part of a ROS
    name gets none (logged). Returns the joints served.
    """
    from std_srvs.srv import SetBool

    served = []
    for joint in joints:
        if not _NAME_TOKEN.fullmatch(joint):
            node.get_logger().warning(
                f'joint {joint!r} is not a valid ROS name: no torque/{joint} service'
            )
            continue

        def handler(request: Any, response: Any, joint: str = joint) -> Any:
            response.success, response.message = switch(joint, bool(request.data))
            return response

        node.create_service(SetBool, f'torque/{joint}', handler)
        served.append(joint)
    return served


def run_node(
    name: str,
    make_node: Callable[[], NodeT],
    args: Sequence[str] | None = None,
    *,
    user_errors: tuple[type[BaseException], ...] = (RobotTouchError,),
    before_spin: Callable[[NodeT], None] | None = None,
    on_exit: Callable[[NodeT], None] | None = None,
    executor: Callable[[], Any] | None = None,
) -> int:
    """
    Build the node and spin it until Ctrl-C or an external shutdown; then clean up.

    A user error (one of ``user_errors``, e.g. a bad parameter or profile) prints one line,
    ``<name>: error: <message>``, and returns 2 instead of a traceback; ``()`` lets every
    error through.

    :param name: the node's name for that line.
    :param make_node: builds the node (after ``rclpy.init``).
    :param args: command line for ``rclpy.init`` (None: ``sys.argv``).
    :param before_spin: called with the node before it spins.
    :param on_exit: called with the node before it is destroyed, however the spin ended.
    :param executor: makes the executor to spin with (default: rclpy's single-threaded one).

    :returns: 0, or 2 after a user error.
    """
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        if before_spin is not None:
            before_spin(node)
        rclpy.spin(node, executor=None if executor is None else executor())
    except user_errors as exc:
        print(f'{name}: error: {exc}', file=sys.stderr)
        return 2
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            if on_exit is not None:
                on_exit(node)
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
