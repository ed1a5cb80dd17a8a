"""
The I/O worker of the serial bridge: one thread that owns the serial port and the bus.

It runs read → decide → write cycles at a steady rate, whatever ROS is doing, and never
dies: a failed port is closed and reopened with backoff, and every other fault is logged
once and shown in :meth:`HardwareWorker.status`. All decisions are made by
:class:`robot_touch.core.bridge_core.BridgeCore`; this module only does the I/O and the
locking around it. No rclpy here: the node passes callbacks.

The port's life (open, check the servos' settings, lose, close) is in
:mod:`robot_touch.bridge.connection`; the configuration and the status snapshot in
:mod:`robot_touch.bridge.config` (both still importable from here).
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any, Callable, Mapping, Sequence

from robot_touch.bridge.config import HardwareConfig, HardwareStatus, LogFn
from robot_touch.bridge.connection import is_serial_failure, PortConnection
from robot_touch.core.bridge_core import Backoff, BridgeCore, CommandRejected, Reading
from robot_touch.core.periodic import PeriodicLoop
from robot_touch.protocols.base import BusError, BusStats, PortGone, ServoBus, ServoStatus

#: woken cycles (a new command) keep at least this share of a period apart, so a command
#: stream faster than the rate cannot monopolise the bus (at 100 Hz: at most 400 cycles/s)
WAKE_MIN_GAP_SHARE = 0.25


class HardwareWorker(PortConnection):
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
        with self._lock:
            released = sorted(sid for sid, on in self._torque_applied.items() if on is False)
        if not self.config.torque_on_exit:
            torque = 'torque released'
        elif released:  # free drive: what the hand holds stays released, nothing is grabbed
            ids = ', '.join(str(sid) for sid in released)
            torque = f'torque stays on, except servos {ids} released in free drive'
        else:
            torque = 'torque stays on'
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
            if is_serial_failure(exc):
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

    def _publish(self, reading: Reading) -> None:
        if self.on_state is None:
            return
        try:
            self.on_state(reading)
        except Exception as exc:  # a publishing problem is not a port problem
            with self._lock:
                self.core.faults.raise_('publish', f'publishing the joint state failed: {exc}')

    def _flush_log(self) -> None:
        with self._lock:
            events = self.core.faults.drain()
        for event in events:
            try:
                self.log(event.level, event.message)
            except Exception:  # a broken logger must not stop the arm's I/O
                traceback.print_exc()


__all__ = ['CommandRejected', 'HardwareConfig', 'HardwareStatus', 'HardwareWorker', 'LogFn']
