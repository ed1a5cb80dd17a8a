"""
`robot-touch bench serial`: full write+read cycles per second against the virtual arm.

For each arm profile and each servo protocol, a virtual arm in its own process (``robot-touch
virtual-arm``, so the emulator does not share this process's interpreter) serves a real pty
and the host-side backend runs the bridge's cycle (one group write of every goal, one read
of every position) as fast as it can; CPU per cycle is this process's alone. A pty has no
baud rate, so next to the measured rate the table gives the wire-time bound: the bytes of
one cycle, counted on the port, × 10 bits (8N1) / the protocol's usual baud; a measured
rate above it is marked "(pty)": a real line could not carry it. A real bus also spends
each servo's return delay and the adapter's USB latency, which neither figure includes.

Where LeRobot runs (its Python 3.12 venv, see shared/lerobot_interop/README.md and
:mod:`robot_touch.bench.lerobot_bus_loop`), each feetech_sts/dynamixel_p2 row of an arm on
its own protocol gets a peer row: LeRobot's bus loop (its sync_write of Goal_Position and
sync_read of Present_Position) against the same kind of emulator process.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import Any, Iterator

from robot_touch.bench.stats import save_json


@dataclass
class SerialBenchRow:
    arm: str
    protocol: str
    servos: int
    baudrate: int
    cycles_per_s: float
    bytes_per_cycle: float
    wire_bound_per_s: float
    retries: int
    bad_replies: int
    timeouts: int
    missed: int  # readings still missing after the retries (a joint without a position that cycle)
    cpu_us_per_cycle: float = 0.0  # CPU time of the host process per cycle
    host: str = 'robot_touch'  # whose bus loop: robot_touch or LeRobot's

    @property
    def above_wire_bound(self) -> bool:
        return self.cycles_per_s > self.wire_bound_per_s


class CountingPort:
    """A pyserial port that counts the bytes written and read through it."""

    def __init__(self, port: Any) -> None:
        self._port = port
        self.written = 0
        self.read_bytes = 0

    def write(self, data: bytes) -> int | None:
        self.written += len(data)
        return self._port.write(data)

    def read(self, size: int = 1) -> bytes:
        data = self._port.read(size)
        self.read_bytes += len(data)
        return data

    def read_until(self, *args: Any, **kwargs: Any) -> bytes:
        data = self._port.read_until(*args, **kwargs)
        self.read_bytes += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._port, name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--arms', nargs='*', help='profiles to run (default: every shipped profile)'
    )
    parser.add_argument(
        '--protocols',
        nargs='*',
        help="protocols to run, or 'all' (default: each arm's own; the SO-101 on every protocol)",
    )
    parser.add_argument(
        '--seconds', type=float, default=2.0, help='measuring time per row (default 2)'
    )
    parser.add_argument(
        '--drop', type=float, default=0.0, help='probability that the virtual arm drops a reply'
    )
    parser.add_argument(
        '--corrupt', type=float, default=0.0, help='probability that it flips a byte of a reply'
    )
    parser.add_argument(
        '--no-lerobot', action='store_true', help="leave out LeRobot's bus loop even where it runs"
    )


@contextmanager
def emulator(
    profile_name: str, protocol: str, drop: float = 0.0, corrupt: float = 0.0
) -> Iterator[str]:
    """`robot-touch virtual-arm` in its own process; yields its pty's path."""
    from robot_touch.errors import RobotTouchError

    command = [
        sys.executable,
        '-m',
        'robot_touch.cli.main',
        'virtual-arm',
        '--arm',
        profile_name,
        '--protocol',
        protocol,
        '--drop',
        str(drop),
        '--corrupt',
        str(corrupt),
        '--seed',
        '1',
    ]
    if protocol == 'maestro':
        # a Maestro set up for full-range servos (its channels' Min/Max), as servo6's profile says:
        # the factory 992..2000 us would clip another arm's positions
        command += ['--options', json.dumps({'channel_range_us': [500, 2500]})]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "PORT <path>", printed once the pty is ready
        if not line.startswith('PORT '):
            proc.kill()
            raise RobotTouchError(
                f'the virtual arm did not start: {proc.communicate(timeout=5)[1].strip()}'
            )
        yield line.split(None, 1)[1].strip()
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def measure(
    profile_name: str, protocol: str, seconds: float, drop: float = 0.0, corrupt: float = 0.0
) -> SerialBenchRow:
    """Cycles per second of one profile's servos spoken to in ``protocol`` over a pty."""
    from robot_touch.core.profile import load_profile
    from robot_touch.protocols.registry import get_bus_class, open_port

    profile = load_profile(profile_name)
    bus_class = get_bus_class(protocol)
    baudrate = profile.baudrate if protocol == profile.protocol else bus_class.default_baudrate
    with emulator(profile.name, protocol, drop, corrupt) as path:
        return _host_loop(
            CountingPort(open_port(path, baudrate)),
            bus_class,
            profile,
            protocol,
            baudrate,
            seconds,
        )


def _host_loop(
    port: CountingPort, bus_class: Any, profile: Any, protocol: str, baudrate: int, seconds: float
) -> SerialBenchRow:
    from robot_touch.errors import RobotTouchError

    specs = profile.all_joints
    try:
        bus = bus_class(port, [s.servo_id for s in specs], profile.protocol_options, 2)
        # goals a few raw units either side of where the servos are: valid in any protocol's
        # units (steps or microseconds), whichever profile the servos come from
        start = {}
        for _ in range(20):  # warm up: first replies, buffers
            start.update({k: v for k, v in bus.read_positions().items() if v is not None})
        if len(start) != len(specs):
            raise RobotTouchError(
                f'{protocol}: no reply from servos {sorted(set(bus.ids) - set(start))}'
            )
        goals = [{sid: raw + delta for sid, raw in start.items()} for delta in (-3, 3)]
        port.written = port.read_bytes = 0
        start_stats = asdict(bus.stats)
        cycles = missed = 0
        cpu = time.process_time()
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            bus.write_goals(goals[cycles % 2])
            missed += sum(1 for v in bus.read_positions().values() if v is None)
            cycles += 1
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        per_cycle = (port.written + port.read_bytes) / max(1, cycles)
        stats = {k: v - start_stats[k] for k, v in asdict(bus.stats).items()}
        bus.close()
    finally:
        port.close()
    return SerialBenchRow(
        arm=profile.name,
        protocol=protocol,
        servos=len(specs),
        baudrate=baudrate,
        cycles_per_s=cycles / elapsed,
        bytes_per_cycle=per_cycle,
        wire_bound_per_s=baudrate / (per_cycle * 10) if per_cycle else float('inf'),
        retries=stats['retries'],
        bad_replies=stats['bad_replies'],
        timeouts=stats['timeouts'],
        missed=missed,
        cpu_us_per_cycle=cpu / max(1, cycles) * 1e6,
    )


def measure_lerobot(
    profile_name: str, protocol: str, seconds: float, bytes_per_cycle: float
) -> SerialBenchRow | None:
    """
    Measure LeRobot's bus loop on the same kind of emulator.

    None where LeRobot does not run. (Its packets are byte-identical to ours, so the bytes per
    cycle are ours; it counts no retries, so those columns read 0, and ``missed`` counts its reads
    failed after them.).
    """
    from robot_touch.bench import lerobot_bus_loop
    from robot_touch.core.profile import load_profile

    found = lerobot_bus_loop.find_lerobot()
    if found is None or protocol not in ('feetech_sts', 'dynamixel_p2'):
        return None
    python, interop = found
    profile = load_profile(profile_name)
    ids = ','.join(str(s.servo_id) for s in profile.all_joints)
    with emulator(profile.name, protocol) as path:
        done = subprocess.run(
            # -P: the script's folder (robot_touch/bench, with its serial.py) must not
            # shadow pyserial
            [
                python,
                '-P',
                str(Path(lerobot_bus_loop.__file__)),
                protocol,
                path,
                ids,
                str(seconds),
            ],
            env={**os.environ, 'PYTHONPATH': interop},
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    if done.returncode != 0:
        print(f"LeRobot's bus loop failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    result = json.loads(done.stdout.splitlines()[-1])
    cycles = max(1, result['cycles'])
    return SerialBenchRow(
        arm=profile.name,
        protocol=protocol,
        servos=len(profile.all_joints),
        baudrate=profile.baudrate,
        cycles_per_s=cycles / result['elapsed'],
        bytes_per_cycle=bytes_per_cycle,
        wire_bound_per_s=profile.baudrate / (bytes_per_cycle * 10),
        retries=0,
        bad_replies=0,
        timeouts=0,
        missed=result['missed'],
        cpu_us_per_cycle=result['cpu'] / cycles * 1e6,
        host='LeRobot 0.6.1',
    )


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.profile import available_profiles, load_profile
    from robot_touch.errors import RobotTouchError
    from robot_touch.protocols.registry import bus_names

    arms = args.arms or available_profiles()
    plan: list[tuple[str, str]] = []
    for arm in arms:
        if args.protocols:
            protocols = bus_names() if args.protocols == ['all'] else args.protocols
        else:
            # each arm on its own protocol; the SO-101's six servos also on every other one,
            # so the protocols compare on the same servo count
            own = load_profile(arm).protocol
            protocols = [own] + ([p for p in bus_names() if p != own] if arm == 'so101' else [])
        plan += [(arm, p) for p in protocols]
    rows: list[SerialBenchRow] = []
    if args.drop or args.corrupt:
        print(
            f'virtual arm faults: {args.drop:.1%} of replies dropped, {args.corrupt:.1%} corrupted'
        )
    print(
        f'{"host":14s} {"arm":18s} {"protocol":13s} {"servos":>6s} {"baud":>8s} {"cycles/s":>15s} '
        f'{"CPU us/cycle":>12s} {"bytes/cycle":>11s} {"wire bound/s":>12s}  '
        'retries bad timeouts missed'
    )
    status = 0
    for arm, protocol in plan:
        try:
            row = measure(arm, protocol, args.seconds, args.drop, args.corrupt)
        except (RobotTouchError, ImportError) as exc:
            print(f'{"":14s} {arm:18s} {protocol:13s} skipped: {exc}')
            status = 1
            continue
        rows.append(row)
        _print_row(row)
        own = load_profile(arm).protocol == protocol
        if own and not (args.drop or args.corrupt) and not args.no_lerobot:
            peer = measure_lerobot(arm, protocol, args.seconds, row.bytes_per_cycle)
            if peer is not None:
                rows.append(peer)
                _print_row(peer)
    save_json(getattr(args, 'json', None), [asdict(r) for r in rows])
    return status


def _print_row(row: SerialBenchRow) -> None:
    rate = f'{row.cycles_per_s:.0f}' + (' (pty)' if row.above_wire_bound else '')
    print(
        f'{row.host:14s} {row.arm:18s} {row.protocol:13s} {row.servos:6d} {row.baudrate:8d} '
        f'{rate:>15s} '
        f'{row.cpu_us_per_cycle:12.0f} {row.bytes_per_cycle:11.0f} {row.wire_bound_per_s:12.0f}  '
        f'{row.retries:7d} {row.bad_replies:3d} {row.timeouts:8d} {row.missed:6d}'
    )
