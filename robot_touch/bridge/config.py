"""
The serial bridge's I/O worker: what it is told and what it reports.

:class:`HardwareConfig` (port, protocol, rates) and :class:`HardwareStatus` (a snapshot for
diagnostics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from robot_touch.protocols.base import BusStats, ServoStatus

#: log callback: (level "debug"/"info"/"warn"/"error", message)
LogFn = Callable[[str, str], None]


@dataclass
class HardwareConfig:
    """
    How to reach the arm and how fast to run.

    :ivar port: pyserial URL (/dev/ttyUSB0, socket://host:port, rfc2217://, loop://).
    :ivar baudrate: bits per second.
    :ivar protocol: registry name of the backend (feetech_sts, dynamixel_p2, ssc32, maestro).
    :ivar protocol_options: the profile's ``protocol_options``.
    :ivar rate: cycles per second (one write and one read each).
    :ivar read_retries: how often the backend repeats a failed read.
    :ivar reconnect_initial / reconnect_max: backoff between reconnection attempts (s).
    :ivar torque_on_start: enable torque once the first positions are latched.
    :ivar torque_on_exit: after the shutdown hold, keep torque on (True) or release it.
    :ivar status_period: seconds between health reads (voltage, temperature, error flags).
    :ivar port_timeout: pyserial read timeout (s).
    :ivar servo_settings: servo id -> the calibration registers the calibration file was made with
        (:mod:`robot_touch.core.servo_settings`), checked at every connect before anything is
        written; a difference stops the worker (:attr:`HardwareWorker.fatal`).
    """

    port: str
    baudrate: int
    protocol: str
    protocol_options: Mapping[str, Any] = field(default_factory=dict)
    rate: float = 100.0
    read_retries: int = 2
    reconnect_initial: float = 0.2
    reconnect_max: float = 2.0
    torque_on_start: bool = True
    torque_on_exit: bool = True
    status_period: float = 1.0
    port_timeout: float = 0.02
    servo_settings: Mapping[int, Mapping[str, int]] = field(default_factory=dict)


@dataclass
class HardwareStatus:
    """A snapshot for diagnostics."""

    connected: bool
    port: str
    protocol: str
    baudrate: int
    cycle_rate: float
    torque: bool
    holding: bool
    stats: BusStats
    servos: dict[int, ServoStatus]
    stale: list[str]
    clamps: dict[str, int]
    faults: dict[str, str]
    reconnects: int
    rejected: int
    relatches: int
    #: joints released on their own (free drive); the whole arm released shows as torque False
    released: list[str] = field(default_factory=list)


__all__ = ['HardwareConfig', 'HardwareStatus', 'LogFn']
