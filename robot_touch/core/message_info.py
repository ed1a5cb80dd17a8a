"""
Plain values from what rclpy hands a subscription callback: who sent it, and when.

rclpy passes a callback that takes two arguments the message and its ``MessageInfo``, a dict
whose ``publisher_gid`` identifies the publisher; teleop keeps stamp order per publisher and
follows one publisher of ``joint_states`` by it. Duck-typed, so tests need no ROS.
"""

from __future__ import annotations

from typing import Any, Hashable


def sender_id(info: Any) -> Hashable:
    """
    Return a hashable id of the publisher of a message (its GID), None when unknown.

    :param info: the ``MessageInfo`` rclpy passed (a dict), or None; ``publisher_gid`` may be
        the bytes themselves or a dict holding them under ``data``.
    """
    gid = info.get('publisher_gid') if isinstance(info, dict) else None
    if isinstance(gid, dict):
        gid = gid.get('data')
    return bytes(gid) if gid is not None else None


def stamp_seconds(stamp: Any) -> float:
    """Return a ``builtin_interfaces/Time`` (``sec``, ``nanosec``) in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9
