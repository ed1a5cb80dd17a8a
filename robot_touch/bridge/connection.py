"""
The serial bridge's port: opened and checked before anything is written, closed when lost.

:class:`PortConnection` is the part of :class:`robot_touch.bridge.hardware.HardwareWorker`
that owns the port's life: open it (with the protocol backend on top), read the servos' own
settings and compare them with the calibration file before any goal is written, report a lost
port once and reconnect, and stop for good where retrying cannot help (someone else owns the
port; a servo no longer fits the calibration). It works on the worker's state and lock.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from robot_touch.bridge.config import HardwareConfig, LogFn
from robot_touch.core.bridge_core import Backoff, BridgeCore, Reading
from robot_touch.core.periodic import PeriodicLoop
from robot_touch.core.servo_settings import (
    check_servo_settings,
    describe_settings,
    SettingsVerdict,
)
from robot_touch.protocols.base import BusStats, ServoBus


class PortConnection:
    """Opening, checking, losing and closing the port (a part of the I/O worker)."""

    core: BridgeCore
    config: HardwareConfig
    log: LogFn
    fatal: str | None
    reconnects: int
    _lock: threading.Lock
    _stop: threading.Event
    _loop: PeriodicLoop | None
    _bus_class: type[ServoBus] | None
    _open_port: Callable[[str, int, float], Any] | None
    _port: Any
    _bus: ServoBus | None
    _backoff: Backoff
    _torque_applied: dict[int, bool | None]
    _stats_total: BusStats
    _rate_window: list[float]
    _next_status: float
    _ever_connected: bool
    _quiet_reconnect: bool

    def _publish(self, reading: Reading) -> None:
        raise NotImplementedError

    def _halt(self, reason: str) -> None:
        """Stop for good from the I/O thread: ``reason`` becomes :attr:`fatal`."""
        self.fatal = reason
        self._stop.set()
        if self._loop is not None:
            self._loop.stop()  # from its own thread: ends after this cycle, no join

    def _connect(self) -> bool:
        from robot_touch.protocols.registry import get_bus_class, open_port

        cfg = self.config
        try:
            port = (self._open_port or open_port)(cfg.port, cfg.baudrate, cfg.port_timeout)
        except Exception as exc:  # ProtocolError, SerialException, OSError: all "not there"
            if type(exc).__name__ == 'PortBusy' and not self._ever_connected:
                # Someone else owns the arm: retrying would only fight them for it.
                self._halt(str(exc))
                return False
            with self._lock:
                what = (
                    'lost'
                    if self._ever_connected
                    else 'cannot be opened (`robot-touch ports` lists the adapters)'
                )
                self.core.faults.raise_(
                    'port',
                    f'port {cfg.port} {what}: {exc}; '
                    f'retrying every {cfg.reconnect_initial:g}–{cfg.reconnect_max:g} s',
                    'error',
                )
            return False
        try:
            bus_class = self._bus_class or get_bus_class(cfg.protocol)
            bus = bus_class(
                port,
                [j.servo_id for j in self.core.joints],
                cfg.protocol_options,
                cfg.read_retries,
            )
        except Exception as exc:  # a bad option must not kill the thread: report and retry
            port.close()
            with self._lock:
                self.core.faults.raise_(
                    'port',
                    f'cannot start the {cfg.protocol} backend on {cfg.port}: {exc}',
                    'error',
                )
            return False
        verdict = self._check_servo_settings(bus)
        if not verdict.ok:  # nothing has been written: the arm has not moved
            for closer in (bus.close, port.close):
                closer()
            with self._lock:
                self.core.faults.raise_('calibration', verdict.message, 'error')
            if verdict.fatal:
                self._halt(verdict.message)
            return False
        with self._lock:
            self._port, self._bus = port, bus
            self._torque_applied = dict.fromkeys(self._torque_applied)
            self.core.on_connected(time.monotonic())
            quiet, self._quiet_reconnect = self._quiet_reconnect, False
            if self._ever_connected and not quiet:
                self.reconnects += 1
                self.core.faults.clear(
                    'port', f'recovered: port {cfg.port} reconnected; positions re-latched'
                )
            else:
                self.core.faults.clear('port', f'recovered: port {cfg.port} opened')
            self._ever_connected = True
        if not quiet:  # a reconnection after a backend error is reported by that error, once
            self.log('info', f'connected to {cfg.port} ({cfg.protocol} @ {cfg.baudrate} baud)')
        self._backoff.reset()
        self._next_status = time.monotonic()
        return True

    def _check_servo_settings(self, bus: ServoBus) -> SettingsVerdict:
        """
        Read the servos' own settings, log them, and compare the calibration registers.

        They are compared with the calibration file's (connect-time check, before any goal is
        written).
        """
        try:
            settings = bus.read_settings()
        except Exception as exc:  # a failed read is retried with the connection
            return SettingsVerdict(False, f'servo settings could not be read ({exc}); retrying')
        names = {j.servo_id: j.name for j in self.core.joints}
        if settings:
            gripper = self.core.joints[-1].servo_id if self.core.has_gripper else None
            lines = describe_settings(settings, names, gripper)
            self.log('info', 'servo settings:\n  ' + '\n  '.join(lines))
        verdict = check_servo_settings(self.config.servo_settings, settings, names)
        if verdict.ok and self.config.servo_settings:
            with self._lock:
                self.core.faults.clear(
                    'calibration', 'recovered: every servo matches the calibration file'
                )
        return verdict

    def _lost(self, reason: str, report: bool = True) -> None:
        """
        Close the port; reconnect on the next loop (``report``: as a "port" fault).

        Every joint's position is unknown from now on: a joint state of NaN says so at once.
        """
        now = time.monotonic()
        with self._lock:
            self.core.on_disconnected(now)
            unknown = self.core.readings.reading([False] * len(self.core.joints), now)
            self._quiet_reconnect = not report
            if report:
                self.core.faults.raise_(
                    'port',
                    f'port {self.config.port} lost ({reason}); reconnecting every '
                    f'{self.config.reconnect_initial:g}–{self.config.reconnect_max:g} s',
                    'error',
                )
        self._close()
        self._publish(unknown)

    def _close(self) -> None:
        with self._lock:
            bus, port = self._bus, self._port
            self._bus = self._port = None
            self._rate_window.clear()
            if bus is not None:
                for key, value in vars(bus.stats).items():
                    setattr(self._stats_total, key, getattr(self._stats_total, key) + value)
        for closer in (getattr(bus, 'close', None), getattr(port, 'close', None)):
            if closer is not None:
                try:
                    closer()
                except Exception:  # closing a dead port may fail in any way; it is gone either way
                    pass


def is_serial_failure(exc: BaseException) -> bool:
    """Tell a pyserial SerialException (port vanished, EIO), without importing serial early."""
    return type(exc).__name__ in ('SerialException', 'SerialTimeoutException', 'PortNotOpenError')


__all__ = ['PortConnection', 'is_serial_failure']
