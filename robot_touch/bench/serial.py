"""`robot-touch bench serial`: full write+read cycles per second against the virtual arm.

For each arm profile and each servo protocol, an in-process virtual arm serves a real pty
and the host-side backend runs the bridge's cycle (one group write of every goal, one read
of every position) as fast as it can. A pty has no baud rate, so next to the measured rate
the table gives the wire-time bound: the bytes of one cycle, counted on the port, × 10 bits
(8N1) / the protocol's usual baud. A real bus also spends each servo's return delay and
the adapter's USB latency, which neither figure includes.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from typing import Any

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
    parser.add_argument("--arms", nargs="*", help="profiles to run (default: every shipped profile)")
    parser.add_argument(
        "--protocols", nargs="*",
        help="protocols to run, or 'all' (default: each arm's own; the SO-101 on every protocol)",
    )
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per row (default 2)")
    parser.add_argument("--drop", type=float, default=0.0, help="probability that the virtual arm drops a reply")
    parser.add_argument("--corrupt", type=float, default=0.0, help="probability that it flips a byte of a reply")


def measure(profile_name: str, protocol: str, seconds: float, drop: float = 0.0, corrupt: float = 0.0) -> SerialBenchRow:
    """Cycles per second of one profile's servos spoken to in ``protocol`` over a pty."""
    from robot_touch.core.profile import load_profile
    from robot_touch.errors import RobotTouchError
    from robot_touch.protocols.registry import get_bus_class, open_port
    from robot_touch.virtual_arm.server import Faults, VirtualArm

    profile = load_profile(profile_name)
    bus_class = get_bus_class(protocol)
    baudrate = profile.baudrate if protocol == profile.protocol else bus_class.default_baudrate
    specs = profile.all_joints
    arm = VirtualArm(profile, protocol=protocol, faults=Faults(drop=drop, corrupt=corrupt, seed=1))
    arm.start()
    port = None
    try:
        port = CountingPort(open_port(arm.port_path, baudrate))
        bus = bus_class(port, [s.servo_id for s in specs], profile.protocol_options, 2)
        # goals a few raw units either side of where the servos are: valid in any protocol's
        # units (steps or microseconds), whichever profile the servos come from
        start = {}
        for _ in range(20):  # warm up: first replies, buffers
            start.update({k: v for k, v in bus.read_positions().items() if v is not None})
        if len(start) != len(specs):
            raise RobotTouchError(f"{protocol}: no reply from servos {sorted(set(bus.ids) - set(start))}")
        goals = [{sid: raw + delta for sid, raw in start.items()} for delta in (-3, 3)]
        port.written = port.read_bytes = 0
        start_stats = asdict(bus.stats)
        cycles = missed = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            bus.write_goals(goals[cycles % 2])
            missed += sum(1 for v in bus.read_positions().values() if v is None)
            cycles += 1
        elapsed = time.perf_counter() - start
        per_cycle = (port.written + port.read_bytes) / max(1, cycles)
        stats = {k: v - start_stats[k] for k, v in asdict(bus.stats).items()}
        bus.close()
    finally:
        if port is not None:
            port.close()
        arm.stop()
    return SerialBenchRow(
        arm=profile.name,
        protocol=protocol,
        servos=len(specs),
        baudrate=baudrate,
        cycles_per_s=cycles / elapsed,
        bytes_per_cycle=per_cycle,
        wire_bound_per_s=baudrate / (per_cycle * 10) if per_cycle else float("inf"),
        retries=stats["retries"],
        bad_replies=stats["bad_replies"],
        timeouts=stats["timeouts"],
        missed=missed,
    )


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.profile import available_profiles, load_profile
    from robot_touch.errors import RobotTouchError
    from robot_touch.protocols.registry import bus_names

    arms = args.arms or available_profiles()
    plan: list[tuple[str, str]] = []
    for arm in arms:
        if args.protocols:
            protocols = bus_names() if args.protocols == ["all"] else args.protocols
        else:
            # each arm on its own protocol; the SO-101's six servos also on every other one,
            # so the protocols compare on the same servo count
            own = load_profile(arm).protocol
            protocols = [own] + ([p for p in bus_names() if p != own] if arm == "so101" else [])
        plan += [(arm, p) for p in protocols]
    rows: list[SerialBenchRow] = []
    if args.drop or args.corrupt:
        print(f"virtual arm faults: {args.drop:.1%} of replies dropped, {args.corrupt:.1%} corrupted")
    print(f"{'arm':18s} {'protocol':13s} {'servos':>6s} {'baud':>8s} {'cycles/s':>9s} {'bytes/cycle':>11s} {'wire bound/s':>12s}  retries bad timeouts missed")
    status = 0
    for arm, protocol in plan:
        try:
            row = measure(arm, protocol, args.seconds, args.drop, args.corrupt)
        except (RobotTouchError, ImportError) as exc:
            print(f"{arm:18s} {protocol:13s} skipped: {exc}")
            status = 1
            continue
        rows.append(row)
        print(
            f"{row.arm:18s} {row.protocol:13s} {row.servos:6d} {row.baudrate:8d} {row.cycles_per_s:9.0f} "
            f"{row.bytes_per_cycle:11.0f} {row.wire_bound_per_s:12.0f}  {row.retries:7d} {row.bad_replies:3d} {row.timeouts:8d} {row.missed:6d}"
        )
    save_json(getattr(args, "json", None), [asdict(r) for r in rows])
    return status
