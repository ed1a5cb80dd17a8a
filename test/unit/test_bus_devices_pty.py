"""
Host backends against the emulated devices over a real pty, for both bus-servo protocols.

The device runs in a thread on the pty's master side (as the virtual arm does); the bus opens
the slave with ``registry.open_port``. Replies can be corrupted on their way back to check
retries and that a damaged reply never turns into a position.
"""

from __future__ import annotations

import os
import select
import threading
import time
from typing import Callable

from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import pytest
from robot_touch.protocols.base import PortGone, ServoBus
from robot_touch.protocols.packet_utils import dxl_packet, feetech_packet
from robot_touch.protocols.registry import get_bus_class, get_device_class, open_port
from robot_touch.virtual_arm.device import DeviceEmulator, ServoModel
from support.waiting import wait_until

PROTOCOLS = ['feetech_sts', 'dynamixel_p2']
WAIT = 3.0  # s a wait_until may take before the test fails
IDS = {'feetech_sts': [1, 2, 3, 4, 5, 6], 'dynamixel_p2': [11, 12, 13, 14, 15]}
LATENCY_MS = 100.0  # generous: a late reply on a loaded machine must not look like a lost one


class PtyDevice:
    """
    An emulated device serving the master side of a fresh pty from a thread.

    ``mutate``, when set, may rewrite (or drop, by returning b"") each reply before it is sent.
    """

    def __init__(self, device: DeviceEmulator) -> None:
        self.device = device
        self.master, self.slave = os.openpty()
        self.path = os.ttyname(self.slave)
        self.mutate: Callable[[bytes], bytes] | None = None
        #: replies the device produced so far (before mutation)
        self.replied = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.002)
            now = time.monotonic()
            self.device.step(now - last)
            last = now
            if not ready:
                continue
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            replies = self.device.feed(data)
            if self.mutate is not None:
                replies = [self.mutate(r) for r in replies]
            if replies:
                os.write(self.master, b''.join(replies))
            self.replied += len(replies)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def make_servos(protocol: str, ids=None, voltage: float | None = None) -> dict[int, ServoModel]:
    ids = IDS[protocol] if ids is None else ids
    volts = voltage if voltage is not None else (7.4 if protocol == 'feetech_sts' else 12.0)
    return {i: ServoModel(i, 2048.0, 2048.0, 6000.0, voltage=volts) for i in ids}


@pytest.fixture(params=PROTOCOLS, ids=PROTOCOLS)
def rig(request):
    """(bus, pty device) with every servo of the protocol's arm on the emulated bus."""
    protocol = request.param
    pty = PtyDevice(get_device_class(protocol)(make_servos(protocol)))
    port = open_port(pty.path, 1_000_000)
    bus: ServoBus = get_bus_class(protocol)(port, IDS[protocol], {'latency_ms': LATENCY_MS})
    yield bus, pty
    bus.close()
    port.close()
    pty.close()


@pytest.mark.timeout(10)
def test_ping(rig):
    bus, _pty = rig
    assert bus.ping(bus.ids[0])
    assert not bus.ping(99)
    assert bus.stats.timeouts == bus.retries + 1


@pytest.mark.timeout(10)
def test_write_goals_moves_servos(rig):
    bus, pty = rig
    bus.set_torque(True)  # servos power up released (e-Manual, STS memory table)
    goals = {servo_id: 1000 + 100 * n for n, servo_id in enumerate(bus.ids)}
    bus.write_goals(goals)
    assert wait_until(lambda: bus.read_positions() == goals, WAIT)
    assert {i: s.goal for i, s in pty.device.servos.items()} == goals


@pytest.mark.timeout(10)
def test_torque_off_stops_motion(rig):
    bus, pty = rig
    bus.set_torque(False)
    assert not any(s.torque_enabled for s in pty.device.servos.values())
    start = bus.read_positions()
    bus.write_goals(dict.fromkeys(bus.ids, 3000))

    # motion would cover ~600 steps in this window; a released servo must not move at all
    def moved() -> bool:
        return any(p is not None and p != start[i] for i, p in bus.read_positions().items())

    assert not wait_until(moved, 0.1)
    bus.set_torque(True)
    assert wait_until(lambda: bus.read_positions() == dict.fromkeys(bus.ids, 3000), WAIT)


@pytest.mark.timeout(10)
def test_read_status_reports_voltage_temperature_and_errors(rig):
    bus, pty = rig
    hot = bus.ids[1]
    pty.device.servos[hot].temperature = 95.0
    statuses = bus.read_status()
    assert set(statuses) == set(bus.ids)
    expected_volts = 7.4 if bus.name == 'feetech_sts' else 12.0
    for servo_id, status in statuses.items():
        assert status.voltage == pytest.approx(expected_volts)
        assert status.moving is False
        if servo_id == hot:
            assert status.temperature == 95.0 and 'overheat' in status.error_flags
        else:
            assert status.temperature == 32.0 and status.error_flags == []


@pytest.mark.timeout(10)
def test_corrupted_reply_is_retried_never_decoded(rig):
    bus, pty = rig
    for n, servo in enumerate(pty.device.servos.values()):
        servo.position = servo.goal = 1500.0 + n
    truth = {i: round(s.position) for i, s in pty.device.servos.items()}
    corrupted = []

    def corrupt_first(reply: bytes) -> bytes:
        if corrupted:
            return reply
        damaged = bytearray(reply)
        damaged[-3] ^= 0x10  # a data byte: the checksum/CRC no longer matches
        corrupted.append(bytes(damaged))
        return bytes(damaged)

    pty.mutate = corrupt_first
    assert bus.read_positions() == truth
    assert corrupted and bus.stats.bad_replies == 1 and bus.stats.retries == 1


@pytest.mark.timeout(10)
def test_servo_with_only_bad_replies_reads_stale(rig):
    bus, pty = rig
    victim = bus.ids[2]
    victim_byte = victim.to_bytes(1, 'little')

    def corrupt_victim(reply: bytes) -> bytes:
        id_at = 2 if bus.name == 'feetech_sts' else 4
        return (
            reply[:-1] + bytes((reply[-1] ^ 0xFF,))
            if reply[id_at:id_at + 1] == victim_byte
            else reply
        )

    pty.mutate = corrupt_victim
    positions = bus.read_positions()
    assert positions[victim] is None
    assert all(positions[i] == 2048 for i in bus.ids if i != victim)
    assert bus.stats.bad_replies == bus.retries + 1
    assert bus.stats.retries == bus.retries


@pytest.mark.timeout(10)
@pytest.mark.parametrize('protocol', PROTOCOLS, ids=PROTOCOLS)
def test_missing_servo_reads_none_others_still_read(protocol):
    present = IDS[protocol][:-1]
    pty = PtyDevice(get_device_class(protocol)(make_servos(protocol, ids=present)))
    port = open_port(pty.path, 1_000_000)
    try:
        bus = get_bus_class(protocol)(port, IDS[protocol], {'latency_ms': LATENCY_MS}, retries=1)
        positions = bus.read_positions()
        assert positions == {**dict.fromkeys(present, 2048), IDS[protocol][-1]: None}
        assert bus.stats.timeouts == 2 and bus.stats.retries == 1
    finally:
        port.close()
        pty.close()


@pytest.mark.timeout(10)
def test_well_formed_reply_of_wrong_length_is_rejected(rig):
    """
    Check that a well-formed reply with a short data field is not a position.

    Its checksum/CRC is valid: a corrupted LEN byte can produce that, since FT-SCS's 8-bit
    sum cannot always catch it.
    """
    bus, pty = rig
    short = bus.ids[0]

    def shorten(reply: bytes) -> bytes:
        if bus.name == 'feetech_sts':
            return feetech_packet(short, 0, reply[5:6]) if reply[2] == short else reply
        return dxl_packet(short, 0x55, b'\x00' + reply[9:12]) if reply[4] == short else reply

    pty.mutate = shorten
    positions = bus.read_positions()
    assert positions[short] is None
    assert all(positions[i] == 2048 for i in bus.ids if i != short)
    assert bus.stats.bad_replies == bus.retries + 1


@pytest.mark.timeout(10)
def test_port_failure_raises_port_gone(rig):
    bus, pty = rig
    pty.close()  # the other end disappears, as when a USB adapter is unplugged
    with pytest.raises(PortGone):
        for _ in range(3):
            bus.read_positions()


@pytest.mark.timeout(10)
def test_goal_needing_byte_stuffing_arrives_intact():
    """
    Check byte stuffing both ways over the pty.

    A Dynamixel goal whose bytes contain FF FF FD (e-Manual byte stuffing), and a present
    position that needs stuffing on the way back.
    """
    servos = {1: ServoModel(1, 0.0, 0.0, 1e9, voltage=12.0)}
    device = get_device_class('dynamixel_p2')(servos)
    device.tables[1][11] = 4  # Operating Mode: extended position, no position-limit check
    pty = PtyDevice(device)
    port = open_port(pty.path, 1_000_000)
    try:
        bus = get_bus_class('dynamixel_p2')(port, [1], {'latency_ms': LATENCY_MS})
        goal = -131073  # 0xFFFDFFFF
        bus.write_goals({1: goal})
        assert wait_until(lambda: servos[1].goal == goal, WAIT)
        servos[1].position = 0x00FDFFFF  # reply bytes FF FF FD 00 get stuffed
        servos[1].goal = 0x00FDFFFF
        assert bus.read_positions() == {1: 0x00FDFFFF}
        assert bus.stuffed_writes == 1 and bus.stats.bad_replies == 0
    finally:
        port.close()
        pty.close()


# -- fuzzing the host-side reply parsing ---------------------------------------------------


def _mutations():
    garbage = st.binary(min_size=1, max_size=20).map(lambda b: b.replace(b'\xff', b'\xfe'))
    return st.one_of(
        st.tuples(st.just('flip'), st.integers(0, 40), st.integers(1, 255)),
        st.tuples(st.just('truncate'), st.integers(0, 40), st.just(0)),
        st.tuples(st.just('prefix'), garbage, st.just(0)),
        st.tuples(st.just('replace'), st.binary(max_size=30), st.just(0)),
    )


def _apply(mutation, reply: bytes) -> bytes:
    kind, arg, flip = mutation
    if kind == 'flip':
        damaged = bytearray(reply)
        damaged[arg % len(reply)] ^= flip
        return bytes(damaged)
    if kind == 'truncate':
        return reply[: arg % len(reply)]
    if kind == 'prefix':
        return arg + reply
    return arg


@pytest.mark.timeout(60)
@pytest.mark.parametrize('protocol', PROTOCOLS, ids=PROTOCOLS)
def test_damaged_replies_never_become_wrong_positions(protocol):
    """
    Random damage to a servo's reply.

    The bus reports the true position or None, never anything else, and never raises.
    """
    servos = {1: ServoModel(1, 0.0, 0.0, 1.0, voltage=12.0)}
    device = get_device_class(protocol)(servos)
    if protocol == 'feetech_sts':
        # Phase bit 4: multi-turn feedback, so the servo reports negative positions too
        device.tables[1][18] |= 0x10
    pty = PtyDevice(device)
    port = open_port(pty.path, 1_000_000)
    bus = get_bus_class(protocol)(port, [1], {'latency_ms': 20.0}, retries=0)
    magnitude = 32767 if protocol == 'feetech_sts' else 4095

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(position=st.integers(-magnitude, magnitude), mutation=_mutations())
    def check(position, mutation):
        servos[1].position = servos[1].goal = float(position)
        pty.mutate = lambda reply: _apply(mutation, reply)
        before = pty.replied
        result = bus.read_positions()[1]
        # a reply that came too late must be out before the next request (which flushes it)
        assert wait_until(lambda: pty.replied > before, WAIT)
        if mutation[0] == 'replace':
            assert result is None or isinstance(result, int)
        else:
            assert result in (None, position)

    try:
        check()
    finally:
        port.close()
        pty.close()


@pytest.mark.timeout(30)
def test_stuffed_replies_decode_exactly():
    """
    Present positions made of FF/FD/00 bytes force byte stuffing in the status packets.

    The SDK's unstuffing under our bus must give back exactly the device's value.
    """
    servos = {1: ServoModel(1, 0.0, 0.0, 1.0, voltage=12.0)}
    pty = PtyDevice(get_device_class('dynamixel_p2')(servos))
    port = open_port(pty.path, 1_000_000)
    bus = get_bus_class('dynamixel_p2')(port, [1], {'latency_ms': LATENCY_MS})
    raw = st.lists(st.sampled_from([0x00, 0xFD, 0xFF]), min_size=4, max_size=4).map(bytes)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(raw)
    def check(data):
        value = int.from_bytes(data, 'little', signed=True)
        servos[1].position = servos[1].goal = float(value)
        assert bus.read_positions() == {1: value}

    try:
        check()
        assert bus.stats.bad_replies == 0
    finally:
        port.close()
        pty.close()


@pytest.mark.timeout(10)
@pytest.mark.parametrize('protocol', PROTOCOLS, ids=PROTOCOLS)
def test_bus_runs_over_socket_url(protocol):
    """The SDK port adapter is transport-agnostic: the same bus over pyserial's socket://."""
    import socket

    device = get_device_class(protocol)(make_servos(protocol))
    server = socket.create_server(('127.0.0.1', 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        conn.settimeout(0.05)
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(4096)
                except socket.timeout:
                    continue
                if not data:
                    return
                conn.sendall(b''.join(device.feed(data)))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = open_port(f'socket://127.0.0.1:{server.getsockname()[1]}', 1_000_000)
    try:
        bus = get_bus_class(protocol)(port, IDS[protocol], {'latency_ms': LATENCY_MS})
        assert bus.ping(IDS[protocol][0])
        bus.write_goals(dict.fromkeys(IDS[protocol], 1234))
        assert wait_until(lambda: all(s.goal == 1234 for s in device.servos.values()), WAIT)
        assert bus.read_positions() != dict.fromkeys(IDS[protocol])
    finally:
        stop.set()
        port.close()
        thread.join(timeout=2)
        server.close()
