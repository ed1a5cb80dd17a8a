"""
`robot-touch bench faults`: how the arm stops and restarts under each kind of fault.

Runs :class:`~robot_touch.bench.fault_rig.FaultRig` (the virtual arm on a pty, the bridge's
real I/O worker and backend, the teleop core at its rate) with the arm moving back and forth,
injects a fault mid-motion, clears it, and asks for a new motion at once, as a person would.
Everything is judged on the virtual arm's true servo state.

Per fault kind (``--repeats`` runs each, the worst reported; the median too for the
acceleration, which a late cycle of a loaded machine can raise in a single run):

* *hold*: from the fault until every servo is at rest (true positions still within one
  servo step for 50 ms);
* *recover*: from clearing the fault until the arm moves toward the new target (a servo
  more than two steps from where it rested);
* *largest command step*: teleop's command stream from the fault to one second after the
  recovery, as a share of the per-cycle bound (velocity limit x period);
* *largest measured acceleration*: the servos' true positions from the clearing to one second
  after the recovery, over 100 ms windows (as the fault campaign of issue 10 measured; one
  servo step of quantisation moves a 100 ms estimate by 0.6 rad/s² at most), in rad/s² and
  as a share of the joint's limit.

A pulled cable stops the servos on their last goal at once (nothing can reach them), so for
``unplug`` the hold is the servos' own.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
import time
from typing import Any, Callable

import numpy as np
from robot_touch.bench.fault_rig import accelerations, FaultRig, speeds, windowed
from robot_touch.bench.stats import save_json

#: fault kind → one-line description (the table's rows)
KINDS: dict[str, str] = {
    'silent_servo': 'wrist_roll stops answering for 0.5 s (its writes still obeyed)',
    'all_silent': 'no servo answers for 0.5 s',
    'unplug': 'the adapter is pulled for 0.8 s and plugged back',
    'late_reads': "every read held back 120 ms for 0.5 s (a failing read's retries)",
    'estop': 'e-stop pressed, released 0.5 s later',
    'spoofed_joint_states': 'a second publisher sends zeros on joint_states for 0.5 s',
}


@dataclass
class FaultBenchRow:
    fault: str
    runs: int
    hold_s: float
    recover_s: float
    command_step_x_bound: float
    accel_rad_s2: float
    accel_x_limit: float
    accel_x_limit_median: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arm', default='so101', help='arm profile (default so101)')
    parser.add_argument(
        '--faults',
        nargs='+',
        choices=sorted(KINDS),
        default=list(KINDS),
        help='fault kinds to run',
    )
    parser.add_argument(
        '--repeats',
        type=int,
        default=3,
        help='runs per fault kind (default 3; the worst is reported)',
    )


def run(args: argparse.Namespace) -> int:
    rows = [_bench(args.arm, kind, args.repeats) for kind in args.faults]
    print(
        f'{"fault":<22} {"runs":>4} {"hold s":>7} {"recover s":>9} {"cmd step/bound":>14} '
        f'{"accel rad/s2":>12} {"accel/limit":>11} {"median":>7}'
    )
    for r in rows:
        print(
            f'{r.fault:<22} {r.runs:4d} {r.hold_s:7.3f} {r.recover_s:9.3f} '
            f'{r.command_step_x_bound:14.2f} '
            f'{r.accel_rad_s2:12.2f} {r.accel_x_limit:11.2f} {r.accel_x_limit_median:7.2f}'
        )
    save_json(getattr(args, 'json', None), [asdict(r) for r in rows])
    return 0


def _bench(arm: str, kind: str, repeats: int) -> FaultBenchRow:
    results = [_one(arm, kind, seed) for seed in range(repeats)]
    return FaultBenchRow(
        fault=kind,
        runs=len(results),
        hold_s=max(r[0] for r in results),
        recover_s=max(r[1] for r in results),
        command_step_x_bound=max(r[2] for r in results),
        accel_rad_s2=max(r[3] for r in results),
        accel_x_limit=max(r[4] for r in results),
        accel_x_limit_median=float(np.median([r[4] for r in results])),
    )


def _one(arm: str, kind: str, seed: int) -> tuple[float, float, float, float, float]:
    from pathlib import Path
    import tempfile

    with tempfile.TemporaryDirectory(prefix='bench_faults_') as tmp:
        rig = FaultRig(arm, link=str(Path(tmp) / 'ttyARM'))
        rig.start()
        try:
            return _inject(rig, kind, seed)
        finally:
            rig.stop()


def _inject(rig: FaultRig, kind: str, seed: int) -> tuple[float, float, float, float, float]:
    sign = 1 if seed % 2 == 0 else -1
    rig.joint_target(shoulder_pan=-0.6 * sign, wrist_roll=-1.5 * sign)
    rig.wait(1.2)
    rig.joint_target(shoulder_pan=0.6 * sign, wrist_roll=1.5 * sign)
    rig.wait(0.25 + 0.05 * seed)  # mid-motion, fast
    start, clear = _fault(rig, kind)
    cleared = time.monotonic()
    clear()
    target = {'shoulder_pan': -0.3 * sign, 'wrist_roll': -0.8 * sign}
    deadline = cleared + 5.0
    while time.monotonic() < deadline:  # asked again and again, as a person would
        rig.joint_target(**target)
        rig.wait(0.05)
        if _moving_since(rig, cleared):
            break
    rig.wait(1.0)
    return _measure(rig, start, cleared)


def _fault(rig: FaultRig, kind: str) -> tuple[float, Callable[[], None]]:
    """Inject ``kind``; wait through it; return (its start, what clears it)."""
    start = time.monotonic()
    if kind == 'silent_servo':
        rig.arm.silence(rig.servo_id('wrist_roll'))
        rig.wait(0.5)
        return start, lambda: rig.arm.silence()
    if kind == 'all_silent':
        rig.arm.silence(*rig.arm.servos)
        rig.wait(0.5)
        return start, lambda: rig.arm.silence()
    if kind == 'unplug':
        rig.arm.unplug()
        rig.wait(0.8)
        return start, rig.arm.replug
    if kind == 'late_reads':
        bus = rig.worker._bus  # the benchmark slows its own rig's bus
        read = bus.read_positions

        def late_read() -> Any:
            time.sleep(0.12)
            return read()

        bus.read_positions = late_read
        rig.wait(0.5)
        return start, lambda: setattr(bus, 'read_positions', read)
    if kind == 'estop':
        rig.teleop.set_estop(True)
        rig.wait(0.5)
        return start, lambda: rig.teleop.set_estop(False)
    if kind == 'spoofed_joint_states':
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            rig.teleop.on_joint_states(
                rig.names, [0.0] * len(rig.names), time.monotonic(), source='spoofer'
            )
            rig.wait(0.01)
        return start, lambda: None  # the spoofer stops; teleop clears the conflict itself
    raise ValueError(f'unknown fault kind {kind!r}')


def _moving_since(rig: FaultRig, since: float) -> bool:
    times, truth, _ = rig.record.truth_arrays()
    after = times >= since
    if after.sum() < 2:
        return False
    step = 1.0 / rig.specs[0].calibration.units_per_rad
    return bool(np.any(np.abs(truth[after] - truth[after][0]) > 2 * step))


def _measure(
    rig: FaultRig, start: float, cleared: float
) -> tuple[float, float, float, float, float]:
    times, truth, _ = rig.record.truth_arrays()
    step = 1.0 / rig.specs[0].calibration.units_per_rad
    # hold: the first moment after the fault from which the servos stay put for 50 ms
    hold = float('nan')
    during = np.nonzero((times >= start) & (times <= cleared))[0]
    for k in during:
        window = (times >= times[k]) & (times <= times[k] + 0.05)
        if np.all(np.ptp(truth[window], axis=0) <= step):
            hold = times[k] - start
            break
    # recover: the first servo motion of more than two steps after the clearing
    after = np.nonzero(times >= cleared)[0]
    moved = [k for k in after if np.any(np.abs(truth[k] - truth[after[0]]) > 2 * step)]
    recover = times[moved[0]] - cleared if moved else float('nan')
    end = (times[moved[0]] if moved else cleared) + 1.0
    t, commands = rig.record.command_array()
    window = (t >= start) & (t <= end)
    vmax = speeds(rig.profile)
    bound = np.abs(np.diff(commands[window], axis=0)) / (vmax * rig.period)
    command_step = float(np.max(bound)) if bound.size else 0.0
    recovery = (times >= cleared) & (times <= end)
    _velocity, acceleration = windowed(times[recovery], truth[recovery], 0.1)
    amax = accelerations(rig.profile)
    accel = float(np.max(np.abs(acceleration))) if acceleration.size else 0.0
    ratio = float(np.max(np.abs(acceleration) / amax)) if acceleration.size else 0.0
    return hold, recover, command_step, accel, ratio
