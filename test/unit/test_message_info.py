"""Who sent a message and when, from what rclpy hands a callback (duck-typed, no ROS)."""

from __future__ import annotations

from types import SimpleNamespace

from robot_touch.core.message_info import sender_id, stamp_seconds


def test_the_sender_is_the_publisher_gid_as_bytes_in_either_shape() -> None:
    gid = list(range(16))
    assert sender_id({'publisher_gid': gid}) == bytes(gid)
    assert sender_id({'publisher_gid': {'data': gid}}) == bytes(gid)
    # hashable, and equal for the same publisher: stamp order is kept per sender by it
    assert {sender_id({'publisher_gid': gid}), sender_id({'publisher_gid': bytes(gid)})} == {
        bytes(gid)
    }


def test_no_info_or_no_gid_is_an_unknown_sender() -> None:
    assert sender_id(None) is None
    assert sender_id({}) is None
    assert sender_id({'publisher_gid': {'data': None}}) is None
    assert sender_id(object()) is None


def test_a_stamp_is_seconds_plus_nanoseconds() -> None:
    assert stamp_seconds(SimpleNamespace(sec=12, nanosec=500_000_000)) == 12.5
    assert stamp_seconds(SimpleNamespace(sec=0, nanosec=0)) == 0.0  # unstamped
