"""
The I/O worker of the serial bridge: one thread that owns the serial port and the bus.

It runs read → decide → write cycles at a steady rate, whatever ROS is doing, and never
dies: a failed port is closed and reopened with backoff, and every other fault is logged
once and shown in :meth:`HardwareWorker.status`. All decisions are made by
:class:`robot_touch.core.bridge_core.BridgeCore`; this module only does the I/O and the
locking around it. No rclpy here: the node passes callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import threading
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

from robot_touch.core.bridge_core import Backoff, BridgeCore, CommandRejected, Reading
from robot_touch.core.periodic import PeriodicLoop
from robot_touch.core.servo_settings import (
    check_servo_settings,
    describe_settings,
    SettingsVerdict,
)
from robot_touch.protocols.base import BusError, BusStats, PortGone, ServoBus, ServoStatus

#: log callback: (level "debug"/"info"/"warn"/"error", message)
LogFn = Callable[[str, str], None]

#: woken cycles (a new command) keep at least this share of a period apart, so a command
#: stream faster than the rate cannot monopolise the bus (at 100 Hz: at most 400 cycles/s)
WAKE_MIN_GAP_SHARE = 0.25


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


class HardwareWorker:
    """
    Runs the bridge's cycles in its own thread.

    :param core: the decisions (shared; every access is under this worker's lock).
    :param config: port, protocol and rates.
    :param on_state: called from the worker thread with each new joint state.
    :param log: called from the worker thread for each log line.
    :param bus_class: the ServoBus subclass to use (default: the registry's for
        ``config.protocol``).
    :param open_port: opens the port (default: :func:`robot_touch.protocols.registry.open_port`).
    """

    def __init__(
        self,
        core: BridgeCore,
        config: HardwareConfig,
        on_state: Callable[[Reading], None] | None = None,
        log: LogFn | None = None,
        bus_class: type[ServoBus] | None = None,
        open_port: Callable[[str, int, float], Any] | None = None,
    ) -> None:
        if not config.rate > 0:
            raise ValueError(f'rate must be positive, got {config.rate}')
        self.core = core
        self.config = config
        self.on_state = on_state
        self.log = log or (lambda level, message: None)
        self._bus_class = bus_class
        self._open_port = open_port
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # A new command wakes the loop: it runs a cycle at once instead of waiting out its
        # period, so a command reaches the servos within one bus transaction (the teleop node
        # likewise runs an extra cycle on a new target). Saves half a period on average.
        self._loop: PeriodicLoop | None = None
        self._port: Any = None
        self._bus: ServoBus | None = None
        self._backoff = Backoff(config.reconnect_initial, config.reconnect_max)
        ids = [j.servo_id for j in core.joints]
        #: servo id -> torque as asked, and as last confirmed by the servos (None: unknown)
        self._torque_wanted = dict.fromkeys(ids, config.torque_on_start)
        self._torque_applied: dict[int, bool | None] = dict.fromkeys(ids)
        self._torque_done = threading.Condition(self._lock)
        self._stats_total = BusStats()
        self._servos: dict[int, ServoStatus] = {}
        self._next_status = 0.0
        self._rate_window: list[float] = []
        self.reconnects = 0
        #: why the worker stopped for good (a servo whose settings no longer fit the calibration)
        self.fatal: str | None = None
        self._ever_connected = False
        self._quiet_reconnect = False
        core.torque = config.torque_on_start

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        """Start the I/O thread: a :class:`PeriodicLoop` at ``config.rate``."""
        if self._loop is not None:
            return
        self._loop = PeriodicLoop(
            1.0 / self.config.rate,
            self._tick,
            name='serial_bridge_io',
            min_gap_share=WAKE_MIN_GAP_SHARE,
        ).start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the I/O thread, hold the arm where it is (:meth:`hold_on_exit`), close the port."""
        self._stop.set()
        if self._loop is not None:
            self._loop.stop(timeout)
            self._loop = None
        self.hold_on_exit()
        self._close()

    @property
    def running(self) -> bool:
        """Return True while the I/O thread is alive."""
        return self._loop is not None and self._loop.running

    def hold_on_exit(self) -> bool:
        """
        Hold the arm where it is: the bridge's last act.

        Each servo's measured position becomes its goal, so a servo still moving stops where it is
        (not at the last command); then torque stays on, or is released with ``torque_on_exit``
        false. Returns True when the hold was written.
        """
        bus = self._bus
        if bus is None:
            return False
        try:
            measured = {sid: raw for sid, raw in bus.read_positions().items() if raw is not None}
            if measured:
                bus.write_goals(measured)
            if not self.config.torque_on_exit:
                bus.set_torque(False)
        except Exception as exc:  # the port may be gone already; say so, once
            self.log('warn', f'shutdown hold not written ({type(exc).__name__}: {exc})')
            return False
        torque = 'torque stays on' if self.config.torque_on_exit else 'torque released'
        self.log('info', f'stopped: {len(measured)} servos hold their measured position; {torque}')
        return True

    def submit_command(self, values: Sequence[float]) -> None:
        """Submit a streamed position command (joint order). Raises CommandRejected."""
        with self._lock:
            self.core.submit_command(values, time.monotonic())
        if self._loop is not None:
            self._loop.wake()

    def submit_trajectory(
        self,
        names: Sequence[str],
        times: Sequence[float],
        positions: Sequence[Sequence[float]],
        velocities: Sequence[Sequence[float]] | None,
        start_delay: float,
        accelerations: Sequence[Sequence[float]] | None = None,
    ) -> None:
        """Submit a trajectory that starts ``start_delay`` s from now; raises CommandRejected."""
        with self._lock:
            now = time.monotonic()
            self.core.submit_trajectory(
                names, times, positions, velocities, now + start_delay, now, accelerations
            )

    def request_torque(
        self, enabled: bool, timeout: float = 1.0, joints: Sequence[str] | None = None
    ) -> tuple[bool, str]:
        """
        Switch torque on ``joints`` (None: every servo); waits for the I/O thread to do it.

        Releasing single joints is free drive: refused where a released servo reports no
        position (PWM boards). Torque goes back on only once the joint's goal is its measured
        position (:meth:`BridgeCore.set_torque`), and is refused for a joint measured outside
        its limits.

        Returns (success, message for the service response).
        """
        what = 'torque' if joints is None else f'{", ".join(joints)}: torque'
        if joints is not None and not enabled and not self._reads_released():
            return False, (
                f'{what} stays on: a released {self.config.protocol} servo reports no '
                'position, so it could not be held again where it was left '
                '(free drive needs bus servos)'
            )
        deadline = time.monotonic() + timeout
        with self._lock:
            try:
                refusal = self.core.set_torque(enabled, time.monotonic(), joints)
            except ValueError as exc:
                return False, str(exc)
            if refusal:
                return False, f'{what} not enabled: {refusal}'
            ids = [self.core.joints[i].servo_id for i in self.core.torque_state.indices(joints)]
            for sid in ids:
                self._torque_wanted[sid] = enabled
            while any(self._torque_applied[sid] is not enabled for sid in ids):
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    if self._bus is None:
                        state = 'on' if enabled else 'off'
                        return False, (
                            f'arm not connected: {what} will be {state} once it reconnects'
                        )
                    return False, 'the servos did not confirm in time; will keep trying'
                self._torque_done.wait(left)
        if joints is None:
            return True, f'torque {"enabled" if enabled else "released"}'
        return True, f'{what} {"enabled, holding where it is" if enabled else "released"}'

    def _reads_released(self) -> bool:
        from robot_touch.protocols.registry import get_bus_class

        bus_class = self._bus_class or get_bus_class(self.config.protocol)
        return bool(getattr(bus_class, 'reads_released', True))

    def status(self) -> HardwareStatus:
        """Return a consistent snapshot for diagnostics."""
        with self._lock:
            stats = BusStats(**vars(self._stats_total))
            if self._bus is not None:
                for key, value in vars(self._bus.stats).items():
                    setattr(stats, key, getattr(stats, key) + value)
            window = self._rate_window
            rate = (
                (len(window) - 1) / (window[-1] - window[0])
                if len(window) > 1 and window[-1] > window[0]
                else 0.0
            )
            return HardwareStatus(
                connected=self._bus is not None,
                port=self.config.port,
                protocol=self.config.protocol,
                baudrate=self.config.baudrate,
                cycle_rate=rate,
                torque=all(self._torque_wanted.values()),
                holding=self.core.holding,
                stats=stats,
                servos=dict(self._servos),
                stale=self.core.stale_joints(),
                clamps=dict(self.core.counters.clamps),
                faults=dict(self.core.faults.active),
                reconnects=self.reconnects,
                rejected=self.core.counters.rejected,
                relatches=self.core.counters.relatches,
                released=self.core.torque_state.released() if self.core.torque else [],
            )

    # ------------------------------------------------------------------ the thread

    def _tick(self, now: float, elapsed: float) -> None:
        """
        Run one turn of the loop: connect if need be, else one read → decide → write cycle.

        A failed connection waits out the backoff here (interrupted by :meth:`stop`); the
        schedule then restarts from that late cycle instead of catching up.
        """
        if self._stop.is_set():
            return
        if self._bus is None and not self._connect():
            self._flush_log()
            self._stop.wait(self._backoff.next_delay())
            return
        try:
            self._cycle()
        except (PortGone, OSError) as exc:
            self._lost(f'{type(exc).__name__}: {exc}')
        except Exception as exc:  # the bridge must survive any backend bug
            if _is_serial_failure(exc):
                self._lost(f'{type(exc).__name__}: {exc}')
            else:
                with self._lock:  # logged once with its traceback, however often it repeats
                    self.core.faults.raise_(
                        'bug',
                        'unexpected error in the I/O cycle, reconnecting:\n'
                        + traceback.format_exc(),
                        'error',
                    )
                self._lost(f'{type(exc).__name__}: {exc}', report=False)
        else:
            if 'bug' in self.core.faults.active:
                with self._lock:
                    self.core.faults.clear('bug', 'recovered: I/O cycles run again')
        self._flush_log()

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

    def _cycle(self) -> None:
        bus = self._bus
        assert bus is not None
        try:
            raw: Mapping[int, int | None] = bus.read_positions()
        except BusError as exc:
            if isinstance(exc, PortGone):
                raise
            raw = {}  # no valid reply at all: every joint missed this cycle
        now = time.monotonic()
        # each reading stamped with when its reply arrived, where the backend knows it
        read_times: Mapping[int, float] | None = getattr(bus, 'reply_times', None)
        with self._lock:
            reading = self.core.on_positions(raw, now, read_times)
            goals = self.core.goals(now)
        written: Mapping[int, int] = {}
        if goals:
            try:
                bus.write_goals(goals)
            except BusError as exc:
                if isinstance(exc, PortGone):
                    raise
                with self._lock:
                    self.core.faults.raise_(
                        'write', f'writing goals failed ({exc}); retrying every cycle'
                    )
            else:
                written = goals
                with self._lock:
                    self.core.faults.clear('write', 'recovered: goals written again')
        self._apply_torque(bus, written)
        if reading is not None:
            self._publish(reading)
        if now >= self._next_status:
            self._next_status = now + self.config.status_period
            self._poll_status(bus)
        with self._lock:
            self._rate_window.append(now)
            while len(self._rate_window) > 2 and now - self._rate_window[0] > 1.0:
                del self._rate_window[0]

    def _apply_torque(self, bus: ServoBus, written: Mapping[int, int]) -> None:
        """
        Switch the servos whose torque differs from what was asked.

        Off at once; on only for servos whose goal was just written (it holds their measured
        position, so they do not leap to whatever goal they had before).
        """
        with self._lock:
            wanted, applied = dict(self._torque_wanted), dict(self._torque_applied)
        off = [sid for sid, w in wanted.items() if not w and applied[sid] is not False]
        on = [
            sid for sid, w in wanted.items() if w and applied[sid] is not True and sid in written
        ]
        for enabled, ids in ((False, off), (True, on)):
            if not ids:
                continue
            try:
                if len(ids) == len(wanted):
                    bus.set_torque(enabled)
                else:
                    bus.set_torque(enabled, ids=ids)
            except BusError as exc:
                if isinstance(exc, PortGone):
                    raise
                state = 'on' if enabled else 'off'
                self.log('warn', f'torque {state} not confirmed ({exc}); retrying')
            else:
                with self._lock:
                    for sid in ids:
                        self._torque_applied[sid] = enabled
                    self._torque_done.notify_all()

    def _poll_status(self, bus: ServoBus) -> None:
        try:
            servos = bus.read_status()
        except BusError as exc:
            if isinstance(exc, PortGone):
                raise
            return  # a missed health read is not worth a fault; the next one will come
        by_id = {j.servo_id: j.name for j in self.core.joints}
        with self._lock:
            self._servos.update(servos)
            for sid, status in servos.items():
                name = by_id.get(sid, str(sid))
                if status.error_flags:
                    self.core.faults.raise_(
                        f'servo:{name}',
                        f'{name} (id {sid}) reports {", ".join(status.error_flags)}',
                        'error',
                    )
                else:
                    self.core.faults.clear(
                        f'servo:{name}', f'recovered: {name} (id {sid}) reports no error'
                    )

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

    def _publish(self, reading: Reading) -> None:
        if self.on_state is None:
            return
        try:
            self.on_state(reading)
        except Exception as exc:  # a publishing problem is not a port problem
            with self._lock:
                self.core.faults.raise_('publish', f'publishing the joint state failed: {exc}')

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

    def _flush_log(self) -> None:
        with self._lock:
            events = self.core.faults.drain()
        for event in events:
            try:
                self.log(event.level, event.message)
            except Exception:  # a broken logger must not stop the arm's I/O
                traceback.print_exc()


def _is_serial_failure(exc: BaseException) -> bool:
    """Tell a pyserial SerialException (port vanished, EIO), without importing serial early."""
    return type(exc).__name__ in ('SerialException', 'SerialTimeoutException', 'PortNotOpenError')


__all__ = ['CommandRejected', 'HardwareConfig', 'HardwareStatus', 'HardwareWorker']
