"""The serial bridge's diagnostics decisions without ROS: levels and the message a person reads."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from robot_touch.bridge.hardware import HardwareStatus
from robot_touch.core.bridge_diagnostics import connection_diagnostic, Level, servo_diagnostics
from robot_touch.protocols.base import BusStats, ServoStatus

JOINTS = [
    SimpleNamespace(name='shoulder_pan', servo_id=1),
    SimpleNamespace(name='gripper', servo_id=6),
]


def status(**changes) -> HardwareStatus:
    healthy = HardwareStatus(
        connected=True,
        port='/dev/ttyACM0',
        protocol='feetech_sts',
        baudrate=1_000_000,
        cycle_rate=99.96,
        torque=True,
        holding=True,
        stats=BusStats(writes=10, reads=9),
        servos={1: ServoStatus(voltage=12.04, temperature=31.0), 6: ServoStatus()},
        stale=[],
        clamps={'shoulder_pan': 2, 'gripper': 0},
        faults={},
        reconnects=0,
        rejected=0,
        relatches=1,
    )
    return replace(healthy, **changes)


@pytest.mark.parametrize(
    'changes, level, message',
    [
        ({}, Level.OK, 'holding'),
        ({'holding': False}, Level.OK, 'following commands'),
        ({'faults': {'watchdog': 'no command for 0.25 s'}}, Level.OK, 'holding'),
        ({'faults': {'rejoin': 'waiting for the stream'}}, Level.OK, 'waiting for the stream'),
        ({'faults': {'rejected': 'command refused: nan'}}, Level.WARN, 'command refused: nan'),
        ({'faults': {'bug': 'unexpected error\nTraceback ...'}}, Level.WARN, 'unexpected error'),
        ({'faults': {'servo:gripper': 'gripper overheat'}}, Level.ERROR, 'gripper overheat'),
        ({'stale': ['gripper']}, Level.ERROR, 'holding'),
        ({'connected': False}, Level.ERROR, 'not connected'),
        ({'connected': False, 'faults': {'port': 'port lost'}}, Level.ERROR, 'port lost'),
    ],
    ids=[
        'healthy',
        'following',
        'watchdog-is-normal',
        'rejoin-is-normal',
        'rejected-warns',
        'traceback-first-line-only',
        'servo-error',
        'stale',
        'disconnected',
        'port-fault',
    ],
)
def test_connection_level_and_message(changes, level, message):
    line = connection_diagnostic(status(**changes))
    assert (line.level, line.message) == (level, message)
    assert line.values['cycle_rate_hz'] == 100.0 and line.values['clamped_commands'] == 2


def test_each_servo_reports_stale_flags_and_health():
    lines = servo_diagnostics(
        status(stale=['shoulder_pan'], servos={6: ServoStatus(error_flags=['overload'])}), JOINTS
    )
    assert [(d.name, d.level, d.message) for d in lines] == [
        ('serial_bridge: shoulder_pan', Level.ERROR, 'stale (no reply)'),
        ('serial_bridge: gripper', Level.ERROR, 'overload'),
    ]
    healthy = servo_diagnostics(status(), JOINTS)[0]
    assert healthy.level == Level.OK and healthy.values['voltage'] == 12.04
    assert servo_diagnostics(status(connected=False), JOINTS)[1].message == 'not connected'
