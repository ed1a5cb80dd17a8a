"""
What the serial bridge reports in ``diagnostics``: levels, messages and values, without ROS.

The node turns each :class:`Diagnostic` into a ``diagnostic_msgs/DiagnosticStatus``; every
decision (what is an error, what is only a warning, which text a person reads first) is made
here, from a snapshot of the I/O worker (:class:`robot_touch.bridge.hardware.HardwareStatus`,
read by attribute so this module needs nothing outside core).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Sequence

#: faults that are normal operation, not problems: holding for want of commands, and waiting
#: for a command stream to come back to the arm
NORMAL_FAULTS = ('watchdog', 'rejoin')


class Level(IntEnum):
    """The levels of diagnostic_msgs/DiagnosticStatus (OK, WARN, ERROR)."""

    OK = 0
    WARN = 1
    ERROR = 2


@dataclass(frozen=True)
class Diagnostic:
    """One status line: its name, hardware id, level, message and key/value pairs."""

    name: str
    hardware_id: str
    level: Level
    message: str
    values: dict[str, Any]


def connection_diagnostic(s: Any) -> Diagnostic:
    """
    Return the bridge's connection status from a worker snapshot ``s``.

    ERROR when the port is not connected, a joint is stale or a servo reports an error; WARN
    for any other active fault; OK otherwise. The message is the port's fault when not
    connected, else the first line of every problem (tracebacks stay in the log), else the
    rejoin note, else "holding" or "following commands".
    """
    problems = {k: v for k, v in s.faults.items() if k not in NORMAL_FAULTS}
    level = Level.OK
    if not s.connected or s.stale or any(k.startswith('servo:') for k in problems):
        level = Level.ERROR
    elif problems:
        level = Level.WARN
    if not s.connected:
        message = problems.get('port', 'not connected')
    elif problems:
        message = '; '.join(text.splitlines()[0] for text in problems.values())
    elif 'rejoin' in s.faults:
        message = s.faults['rejoin']
    else:
        message = 'holding' if s.holding else 'following commands'
    values = {
        'connected': s.connected,
        'port': s.port,
        'protocol': s.protocol,
        'baudrate': s.baudrate,
        'cycle_rate_hz': round(s.cycle_rate, 1),
        'torque': s.torque,
        'released': ','.join(s.released),
        'holding': s.holding,
        'stale_joints': ','.join(s.stale),
        'writes': s.stats.writes,
        'reads': s.stats.reads,
        'retries': s.stats.retries,
        'bad_replies': s.stats.bad_replies,
        'timeouts': s.stats.timeouts,
        'reconnects': s.reconnects,
        'relatches': s.relatches,
        'rejected_commands': s.rejected,
        'clamped_commands': sum(s.clamps.values()),
    }
    return Diagnostic('serial_bridge: connection', s.port, level, message, values)


def servo_diagnostics(s: Any, joints: Sequence[Any]) -> list[Diagnostic]:
    """
    Return one status per bridged joint (``joints``: name and servo_id each).

    ERROR when the joint is stale, its servo reports error flags, or the port is not
    connected; the servo's last health read (voltage, temperature, load, moving) as values.
    """
    out = []
    for joint in joints:
        servo = s.servos.get(joint.servo_id)
        stale = joint.name in s.stale
        flags = list(servo.error_flags) if servo else []
        level = Level.ERROR if stale or flags or not s.connected else Level.OK
        if stale:
            message = 'stale (no reply)'
        elif flags:
            message = ', '.join(flags)
        else:
            message = 'ok' if s.connected else 'not connected'
        values: dict[str, Any] = {
            'servo_id': joint.servo_id,
            'stale': stale,
            'clamps': s.clamps.get(joint.name, 0),
        }
        if servo is not None:
            for key in ('voltage', 'temperature', 'load', 'moving'):
                value = getattr(servo, key)
                if value is not None:
                    values[key] = round(value, 3) if isinstance(value, float) else value
            values['error_flags'] = ','.join(flags)
        out.append(
            Diagnostic(
                f'serial_bridge: {joint.name}',
                f'{s.port}#{joint.servo_id}',
                level,
                message,
                values,
            )
        )
    return out


__all__ = ['Diagnostic', 'Level', 'NORMAL_FAULTS', 'connection_diagnostic', 'servo_diagnostics']
