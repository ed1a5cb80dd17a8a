"""Small helpers of the launch tier: a ROS listener and the processes of a launch."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
import time
from typing import Any, Iterator


@contextmanager
def ros_node(name: str = 'launch_probe') -> Iterator[Any]:
    """Return an rclpy node in its own context (this run's ROS_DOMAIN_ID), shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node(name, context=context)
    try:
        yield node
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def messages(node: Any, msg_type: Any, topic: str, count: int, timeout: float) -> list:
    """Return the first ``count`` messages on ``topic`` (fewer if ``timeout`` s passed first)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    box: list = []
    sub = node.create_subscription(msg_type, topic, box.append, qos_profile_sensor_data)
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    try:
        while len(box) < count and time.monotonic() < deadline and rclpy.ok(context=node.context):
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.remove_node(node)
        node.destroy_subscription(sub)
    return box[:count]


def group_commands(pgid: int) -> list[list[str]]:
    """Return the command lines of the running processes in process group ``pgid``."""
    commands = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
            # Field 5 (after the parenthesised command name) is the process group.
            fields = stat.rpartition(')')[2].split()
            if int(fields[2]) != pgid or fields[0] == 'Z':
                continue
            argv = (entry / 'cmdline').read_bytes().split(b'\0')
        except (OSError, ValueError):
            continue  # the process ended while we looked
        commands.append([a.decode(errors='replace') for a in argv if a])
    return commands
