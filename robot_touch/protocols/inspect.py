# noqa: A005 (robot_touch.protocols.inspect is imported by its full name, never as inspect)
"""
Read-only inspection of a servo bus: who answers, and the settings each servo holds.

What ``robot-touch doctor --port`` prints: for every servo of the arm profile, whether it
answers, its calibration registers (Homing Offset, Min/Max Position Limit, drive mode), its
gains and limits (:meth:`robot_touch.protocols.base.ServoBus.read_settings`), with a note
wherever an STS3215 still holds a factory value LeRobot's SO follower changes
(:mod:`robot_touch.core.servo_settings`). Nothing is written: torque and goals stay as
they are.
"""

from __future__ import annotations

from robot_touch.core.profile import ArmProfile
from robot_touch.core.servo_settings import describe_settings
from robot_touch.protocols.base import BusError
from robot_touch.protocols.registry import get_bus_class, open_port


def inspect_port(
    profile: ArmProfile, port: str, protocol: str = '', baudrate: int = 0
) -> tuple[bool, list[str]]:
    """
    (every servo answered, report lines) for ``profile``'s servos on ``port``.

    :raises ProtocolError: the port cannot be opened or the protocol is unknown.
    """
    protocol = protocol or profile.protocol
    baudrate = baudrate or profile.baudrate
    bus_class = get_bus_class(protocol)
    names = {spec.servo_id: spec.name for spec in profile.all_joints}
    lines = [f'{profile.name} on {port} ({protocol} @ {baudrate} baud), servos {sorted(names)}:']
    serial_port = open_port(port, baudrate)
    try:
        bus = bus_class(serial_port, list(names), profile.protocol_options, 2)
        try:
            silent = [sid for sid in names if not bus.ping(sid)]
            settings = bus.read_settings() if len(silent) < len(names) else {}
        except BusError as exc:
            return False, lines + [f'  no answer: {exc}']
        finally:
            bus.close()
    finally:
        serial_port.close()
    for sid in silent:
        lines.append(
            f'  {names[sid]} (servo {sid}): no answer - check its cable, power, id and baud rate'
        )
    gripper = profile.gripper.servo_id if profile.gripper else None
    lines += ['  ' + line for line in describe_settings(settings, names, gripper)]
    if not settings and not silent:
        lines.append('  (this controller keeps no servo settings)')
    return not silent, lines
