"""
Operator commands without the ROS CLI (a pip install has no `ros2`).

`robot-touch estop | release | enable | disable | home | status [--namespace NS]`.

Each command is one call to the running graph's teleop services (``teleop/estop``,
``teleop/enable``, ``teleop/home``), or for ``status`` what `robot-touch run`'s status line
shows. Exit codes: 0 done, 1 refused by teleop (its reason is printed), 2 nothing answered.
The commands speak DDS with the graph's own environment (robot_touch.graph.dds_environment):
its loopback profile reaches a graph on this host whichever way it was opened.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from robot_touch.cli.run_cmd import network_or_error
from robot_touch.errors import RobotTouchError

#: command → (service, request value or None for Trigger, what it does)
ACTIONS: dict[str, tuple[str, bool | None, str]] = {
    'estop': ('teleop/estop', True, 'latch the e-stop: the arm stops (controlled) and holds'),
    'release': ('teleop/estop', False, 'release a latched e-stop (the arm stays where it is)'),
    'enable': ('teleop/enable', True, 'enable teleop: inputs move the arm again'),
    'disable': ('teleop/enable', False, 'disable teleop: the arm brakes to a stop and holds'),
    'home': ('teleop/home', None, "move the arm to the profile's home pose"),
}
SERVICE_WAIT = 5.0  # s


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--namespace',
        default='',
        help="ROS namespace of the arm's graph (as given to `robot-touch run`)",
    )
    parser.add_argument(
        '--timeout',
        type=float,
        default=SERVICE_WAIT,
        help=f'seconds to wait for the graph (default {SERVICE_WAIT:g})',
    )


def _init_ros(namespace: str):  # rclpy module, context, node
    network_or_error('local')  # before rclpy loads the DDS profile
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(
        args=[], context=context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO
    )
    node = rclpy.create_node(
        f'robot_touch_cli_{os.getpid()}', namespace=_ns(namespace) or None, context=context
    )
    return rclpy, context, node


def _ns(namespace: str) -> str:
    return '/' + namespace.strip('/') if namespace.strip('/') else ''


def _nobody(namespace: str, timeout: float, what: str) -> RobotTouchError:
    domain = os.environ.get('ROS_DOMAIN_ID', '0')
    return RobotTouchError(
        f'no {what} answered within {timeout:g} s '
        f'(ROS_DOMAIN_ID {domain}, namespace {_ns(namespace) or "/"}): '
        'is `robot-touch run` running with the same ROS_DOMAIN_ID and --namespace?'
    )


def call(command: str, namespace: str, timeout: float) -> tuple[bool, str]:
    """Call the service behind ``command``; (success, teleop's message)."""
    from std_srvs.srv import SetBool, Trigger

    service, value, _help = ACTIONS[command]
    kind = Trigger if value is None else SetBool
    request = Trigger.Request() if value is None else SetBool.Request(data=value)
    result = call_services([(kind, service, request)], namespace, timeout)[0]
    return bool(result.success), str(result.message)


def call_services(calls: list[tuple[Any, str, Any]], namespace: str, timeout: float) -> list[Any]:
    """
    Make the service ``calls`` one after the other from one node, up to the first one refused.

    Each call is (service type, name relative to ``namespace``, request).

    :returns: their results.
    :raises RobotTouchError: if nobody answers.
    """
    from rclpy.executors import SingleThreadedExecutor

    rclpy, context, node = _init_ros(namespace)
    try:
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        results = []
        for kind, service, request in calls:
            client = node.create_client(kind, service)
            if not client.wait_for_service(timeout_sec=timeout):
                raise _nobody(namespace, timeout, f'teleop ({service})')
            future = client.call_async(request)
            executor.spin_until_future_complete(future, timeout_sec=timeout)
            if not future.done():
                raise _nobody(namespace, timeout, f'answer from {service}')
            result = future.result()
            results.append(result)
            if refused(result):
                break
        return results
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def refused(result: Any) -> str | None:
    """Why a service answered no (a SetBool/Trigger, or SetParameters' reasons), or None."""
    reasons = [r.reason for r in getattr(result, 'results', []) if not r.successful]
    if reasons:
        return '; '.join(reasons)
    if not getattr(result, 'success', True):
        return str(getattr(result, 'message', '')) or 'no reason given'
    return None


def status(namespace: str, timeout: float) -> str:
    """Return the graph's status line, as `robot-touch run` shows it, after listening ~2.5 s."""
    from robot_touch.run_monitor import RunMonitor

    network_or_error('local')
    monitor = RunMonitor(namespace)
    monitor.start()
    try:
        deadline = time.monotonic() + timeout
        # teleop publishes its status at least twice a second; rates need a full window
        while time.monotonic() < deadline and not monitor.health.seen_teleop():
            time.sleep(0.05)
        if not monitor.health.seen_teleop():
            raise _nobody(namespace, timeout, 'teleop (teleop/status)')
        time.sleep(max(0.0, min(2.2, deadline - time.monotonic())))
        return monitor.summary()
    finally:
        monitor.stop()


def run(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise RobotTouchError(
            f'--timeout must be a positive number of seconds, got {args.timeout:g}'
        )
    if args.command == 'status':
        print(status(args.namespace, args.timeout))
        return 0
    success, message = call(args.command, args.namespace, args.timeout)
    if success:
        print(message)
        return 0
    print(f'refused: {message}')
    return 1
