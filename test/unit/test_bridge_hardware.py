"""
The bridge's I/O worker against a minimal in-test backend over pyserial's loop:// port.

The backend keeps emulated servos (the virtual arm's ServoModel) and uses the real loop://
port for every transaction, so closing the port is a real pyserial failure. The full
protocol path (real backends, a pty, the virtual arm) is covered in
test/integration/test_serial_bridge.py.
"""

from __future__ import annotations

import threading

import pytest
from robot_touch.bridge.hardware import HardwareConfig, HardwareWorker
from robot_touch.core.bridge_core import BridgeCore, build_converters
from robot_touch.core.calibration import merge_calibration
from robot_touch.protocols.base import ServoBus
from robot_touch.virtual_arm.device import ServoModel
import serial
from support.waiting import wait_for


class LoopBus(ServoBus):
    """Each call sends a byte over loop:// and reads it back; servos live in ``SERVOS``."""

    name = 'loop_test'
    servos: dict[int, ServoModel] = {}
    calls: list[tuple[str, object]] = []
    explode = False

    def _transact(self) -> None:
        self.port.write(b'\x01')
        if self.port.read(1) != b'\x01':
            raise serial.SerialException('loop did not echo')

    def ping(self, servo_id: int) -> bool:
        self._transact()
        return servo_id in self.servos

    def write_goals(self, goals):
        self._transact()
        if LoopBus.explode:
            raise RuntimeError('backend bug')
        self.calls.append(('goals', dict(goals)))
        for sid, raw in goals.items():
            self.servos[sid].set_goal(raw)
        self.stats.writes += 1

    def read_positions(self):
        self._transact()
        for servo in self.servos.values():
            servo.step(0.01)
        self.stats.reads += 1
        return {sid: round(self.servos[sid].position) for sid in self.ids}

    def set_torque(self, enabled: bool) -> None:
        self._transact()
        self.calls.append(('torque', enabled))
        for servo in self.servos.values():
            servo.torque_enabled = enabled


class Plug:
    """Opens loop:// unless unplugged; keeps the open port so a test can break it."""

    def __init__(self) -> None:
        self.plugged = True
        self.port = None
        self.opened = 0
        self.attempts = 0

    def __call__(self, url: str, baudrate: int, timeout: float):
        self.attempts += 1
        if not self.plugged:
            raise serial.SerialException(f'could not open port {url}: No such file or directory')
        self.port = serial.serial_for_url('loop://', baudrate=baudrate, timeout=timeout)
        self.opened += 1
        return self.port


@pytest.fixture
def rig(so101):
    LoopBus.servos = {
        j.servo_id: ServoModel(j.servo_id, 2100.0, 2100.0, 3000.0, torque_enabled=False)
        for j in so101.all_joints
    }
    LoopBus.calls = []
    LoopBus.explode = False
    joints = build_converters(so101, merge_calibration(so101, None))
    core = BridgeCore(joints, command_timeout=0.25, stale_timeout=0.03)
    logs: list[tuple[str, str]] = []
    states = []
    plug = Plug()
    config = HardwareConfig(
        port='loop://arm',
        baudrate=1_000_000,
        protocol='loop_test',
        rate=200.0,
        reconnect_initial=0.02,
        reconnect_max=0.05,
    )
    worker = HardwareWorker(
        core,
        config,
        on_state=states.append,
        log=lambda lvl, msg: logs.append((lvl, msg)),
        bus_class=LoopBus,
        open_port=plug,
    )
    worker.start()
    yield worker, plug, logs, states
    worker.stop()


@pytest.mark.timeout(20)
def test_torque_goes_on_only_after_the_goals_hold_the_measured_position(rig):
    worker, _plug, _logs, states = rig
    wait_for(lambda: ('torque', True) in LoopBus.calls, what='torque on')
    first_torque = LoopBus.calls.index(('torque', True))
    goals_before = [c for c in LoopBus.calls[:first_torque] if c[0] == 'goals']
    assert goals_before and set(goals_before[0][1].values()) == {2100}
    assert states and states[-1].positions[0] == pytest.approx((2100 - 2048) / 651.8986)


@pytest.mark.timeout(20)
def test_commands_are_written_and_read_back(rig):
    worker, _plug, _logs, states = rig
    wait_for(
        lambda: worker.status().torque and ('torque', True) in LoopBus.calls, what='torque on'
    )

    def tracking():
        worker.submit_command([0.5, 0, 0, 0, 0, 0])
        return abs(states[-1].positions[0] - 0.5) < 0.01

    wait_for(tracking, what='joint_states at the command')
    assert worker.status().cycle_rate > 0


@pytest.mark.timeout(20)
def test_port_failure_reconnects_relatches_and_logs_once(rig):
    worker, plug, logs, _states = rig
    wait_for(lambda: ('torque', True) in LoopBus.calls, what='torque on')
    plug.plugged = False
    plug.port.close()  # the next transaction fails as an unplugged adapter does
    wait_for(lambda: not worker.status().connected, what='disconnect')
    wait_for(lambda: sum(1 for lvl, _ in logs if lvl == 'error') >= 1, what='error log')
    worker.submit_command([1.0, 0, 0, 0, 0, 0])  # given while unplugged: must not be replayed
    LoopBus.servos[1].position = LoopBus.servos[1].goal = 2300.0  # moved while the bridge was away
    attempts = plug.attempts
    wait_for(lambda: plug.attempts >= attempts + 2, what='failed reconnection attempts')
    LoopBus.calls.clear()
    plug.plugged = True
    wait_for(lambda: worker.status().connected and LoopBus.calls, what='reconnect')
    wait_for(
        lambda: len([c for c in LoopBus.calls if c[0] == 'goals']) >= 5,
        what='goals after reconnect',
    )
    goals = [c[1] for c in LoopBus.calls if c[0] == 'goals']
    assert all(g[1] == 2300 for g in goals[:5])
    errors = [msg for lvl, msg in logs if lvl == 'error']
    assert len(errors) == 1 and 'lost' in errors[0]
    assert any(msg.startswith('recovered: port loop://arm reconnected') for _, msg in logs)
    # the command given while unplugged waits to rejoin until its stream times out
    wait_for(lambda: set(worker.status().faults) == {'watchdog'}, what='the rejoin wait to end')
    assert worker.status().reconnects == 1


@pytest.mark.timeout(20)
def test_unexpected_backend_error_does_not_kill_the_worker(rig):
    worker, plug, logs, _states = rig
    wait_for(lambda: ('torque', True) in LoopBus.calls, what='torque on')
    LoopBus.explode = True
    wait_for(lambda: any('backend bug' in msg for _, msg in logs), what='error logged')
    LoopBus.explode = False
    opened = plug.opened
    wait_for(lambda: plug.opened > opened and worker.status().connected, what='recovery')
    wait_for(
        lambda: any(msg == 'recovered: I/O cycles run again' for _, msg in logs),
        what='recovered log',
    )
    assert worker.running
    assert (
        sum('unexpected error' in msg for _, msg in logs) == 1
    )  # once, however many cycles failed
    assert not any('lost' in msg for _, msg in logs)


@pytest.mark.timeout(20)
def test_torque_service_releases_and_reports(rig):
    worker, _plug, _logs, states = rig
    wait_for(lambda: ('torque', True) in LoopBus.calls, what='torque on')
    assert worker.request_torque(False) == (True, 'torque released')
    assert ('torque', False) in LoopBus.calls
    count = len([c for c in LoopBus.calls if c[0] == 'goals'])
    read = len(states)
    wait_for(lambda: len(states) >= read + 5, what='cycles while released')  # reads go on
    assert (
        len([c for c in LoopBus.calls if c[0] == 'goals']) == count
    )  # nothing written while released
    assert worker.request_torque(True) == (True, 'torque enabled')


def test_request_torque_while_unplugged_says_so(so101):
    core = BridgeCore(build_converters(so101, merge_calibration(so101, None)))
    plug = Plug()
    plug.plugged = False
    worker = HardwareWorker(
        core,
        HardwareConfig('loop://arm', 1_000_000, 'loop_test'),
        bus_class=LoopBus,
        open_port=plug,
    )
    ok, message = worker.request_torque(False, timeout=0.05)
    assert not ok and 'not connected' in message
    assert threading.active_count() >= 1


@pytest.mark.timeout(20)
def test_a_new_command_is_written_at_once_not_at_the_next_period(so101):
    """At 1 Hz the next periodic cycle is a second away; a command must not wait for it."""
    import time

    LoopBus.servos = {
        j.servo_id: ServoModel(j.servo_id, 2100.0, 2100.0, 3000.0, torque_enabled=True)
        for j in so101.all_joints
    }
    LoopBus.calls = []
    LoopBus.explode = False
    joints = build_converters(so101, merge_calibration(so101, None))
    core = BridgeCore(joints, command_timeout=5.0, stale_timeout=0.03)
    config = HardwareConfig(port='loop://arm', baudrate=1_000_000, protocol='loop_test', rate=1.0)
    worker = HardwareWorker(
        core, config, on_state=lambda s: None, bus_class=LoopBus, open_port=Plug()
    )
    worker.start()
    try:
        wait_for(lambda: any(c[0] == 'goals' for c in LoopBus.calls), what='the first cycle')
        before = len(LoopBus.calls)
        sent = time.monotonic()
        worker.submit_command([0.1, 0, 0, 0, 0, 0])
        wait_for(
            lambda: any(c[0] == 'goals' for c in LoopBus.calls[before:]),
            timeout=5.0,
            what='a write after the command',
        )
        assert time.monotonic() - sent < 0.5, 'the command waited for the next 1 s period'
    finally:
        worker.stop()
