"""
`robot-touch bench e2e`: latency from a touch in the UI to the resulting serial frame at the arm.

The whole graph runs as in ``robot-touch run --backend virtual``, with the two ends in this
process so that both ends' times come from one clock (``time.monotonic()``, which is
system-wide on Linux, so the child processes' work is in between without clock sync):

* this process: Xvfb (when there is no ``$DISPLAY``), the real touch UI app with its
  ``touch_ui`` node, a probe node (``target_pose`` and ``forward_position_controller/commands``
  subscriptions in a background executor) and a :class:`~robot_touch.virtual_arm.server.VirtualArm`
  ("so101", Feetech STS on a pty) whose device is wrapped to timestamp every goal SYNC WRITE
  frame that arrives from the host;
* child processes (:class:`~robot_touch.runner.Supervisor`): ``serial_bridge`` on the virtual
  arm's link and ``teleop``.

Each sample starts with the arm at rest (the commands and the goal frames have stopped
changing and the emulated servos have reached their goals). A finger that is already dragging
in the top view moves a few pixels; the times taken are

* t_touch: just before the move event is dispatched (``Finger.move_to``: the UI handles it,
  recognises the drag and publishes ``target_pose`` synchronously);
* t_pose: ``target_pose`` arriving at the probe;
* t_cmd: the first ``forward_position_controller/commands`` at the probe that differs from the
  resting command;
* t_frame: the first goal frame at the device whose first byte arrived after t_cmd — the
  bridge's receive time is not observable, so this is the first frame that *could* carry the
  new command (it may still carry the old goals if the bridge wrote it just before it took the
  command in);
* t_move: the first goal frame whose goal bytes differ from the resting frame's: the servo is
  told to move. This includes the start of teleop's jerk-limited (Ruckig) ramp: a goal is a
  whole raw unit (1.53 mrad on an STS3215), so it changes only once some joint's plan crosses
  a rounding boundary, 0 to 1 unit away from where it rests. From rest, x = j t³ / 6: at
  so101's jerk limits (80–120 rad/s³) half a unit takes 34–39 ms and a full unit 42–49 ms.

While a sample is in flight the Kivy loop is not run (the test sleeps instead): in the real
graph the UI is its own process, and here the virtual arm's thread shares the UI's GIL, so a
software-rendered frame (llvmpipe under Xvfb) would delay the device's timestamps in a way
the real topology does not have.

The graph's setup is in :mod:`robot_touch.bench.e2e_graph`, the device-side stamps in
:mod:`robot_touch.bench.frame_tap`; this module times the touches and prints the table.
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
import dataclasses
import math
import os
import random
import signal
import sys
import time
from typing import Any

# FrameTap lives in frame_tap.py (bench remote uses it too); still importable from here.
from robot_touch.bench.e2e_graph import ARM, BenchFailed, E2eGraph, Probe, start_graph, TailLog
from robot_touch.bench.frame_tap import FrameTap
from robot_touch.bench.stats import percentile, save_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--samples', type=int, default=60, help='touch moves to time (default 60)')
    parser.add_argument(
        '--bridge-rate',
        type=float,
        default=100.0,
        help='serial_bridge cycle rate in Hz (default 100)',
    )
    parser.add_argument(
        '--teleop-rate', type=float, default=100.0, help='teleop control rate in Hz (default 100)'
    )
    parser.add_argument(
        '--step-px',
        type=float,
        default=8.0,
        help='length of each timed finger move in pixels (default 8)',
    )
    parser.add_argument(
        '--link',
        default='',
        help="symlink for the virtual arm's pty (default: a per-process temp path)",
    )
    parser.add_argument('--size', default='1280x800', help='UI window size WxH (default 1280x800)')
    parser.add_argument(
        '--settle-timeout',
        type=float,
        default=5.0,
        help='longest wait for the arm to come to rest (s)',
    )
    parser.add_argument(
        '--verbose', action='store_true', help="stream the child processes' output"
    )


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _ramp_ms(units: float, jerk: float, units_per_rad: float) -> float:
    """Time for a jerk-limited start from rest (x = j t³ / 6) to move ``units`` raw units."""
    return (6.0 * (units / units_per_rad) / jerk) ** (1.0 / 3.0) * 1e3


@dataclasses.dataclass
class Sample:
    """One timed touch (all times ms after the touch event's dispatch; NaN = not observed)."""

    pose_ms: float
    cmd_ms: float
    frame_ms: float
    move_ms: float


# -- the benchmark ------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table (and write JSON with ``--json``). 0 on success."""
    sys.setswitchinterval(0.0005)  # arrival stamps not held back by a long GIL hand-off
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 101)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ['KIVY_NO_ARGS'] = '1'
    os.environ.setdefault('KIVY_NO_CONSOLELOG', '1')
    # SDL's own SIGINT handler would turn Ctrl-C into a window-close request rather than a
    # KeyboardInterrupt, which is what lets the ExitStack stop everything in order.
    os.environ['SDL_NO_SIGNAL_HANDLERS'] = '1'
    if args.samples < 1:
        print('bench e2e: --samples must be at least 1')
        return 2
    log = TailLog(echo=args.verbose)
    # SIGTERM (a killed CI job, `kill`) should clean up like Ctrl-C: the children run in their
    # own sessions and would otherwise outlive us.
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        with ExitStack() as stack:
            samples, info = _run(args, stack, log)
    except KeyboardInterrupt:
        print('bench e2e: interrupted; everything stopped')
        return 130
    except BenchFailed as exc:
        print(f'bench e2e: {exc}')
        if log.lines:
            print('last output of the child processes:')
            for line in list(log.lines)[-40:]:
                print('  ' + line)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    return _report(args, samples, info)


def _run(
    args: argparse.Namespace, stack: ExitStack, log: TailLog
) -> tuple[list[Sample], dict[str, Any]]:
    graph = start_graph(args, stack, log)
    samples, not_at_rest = _touches(args, stack, graph)
    # Over the joints' jerk limits (teleop may scale a joint's jerk down so all finish
    # together, which only makes it later): how long the ramp needs to cross half / one unit.
    joints = graph.node.profile.joints
    half = [_ramp_ms(0.5, j.jerk, j.calibration.units_per_rad) for j in joints]
    full = [_ramp_ms(1.0, j.jerk, j.calibration.units_per_rad) for j in joints]
    info = {
        'not_at_rest': not_at_rest,
        'bridge_rate': args.bridge_rate,
        'teleop_rate': args.teleop_rate,
        'load_average': os.getloadavg()[0],
        'ramp_half_unit_ms': [min(half), max(half)],
        'ramp_full_unit_ms': [min(full), max(full)],
    }
    return samples, info


def _touches(
    args: argparse.Namespace, stack: ExitStack, graph: E2eGraph
) -> tuple[list[Sample], int]:
    """Time ``--samples`` finger moves; return them and how many began before the arm rested."""
    from kivy.base import EventLoop
    from robot_touch.ui.synthetic_touch import Finger

    probe, tap = graph.probe, graph.tap
    view = graph.app.root.ids.top_view
    x0, y0 = view.x + view.width * 0.5, view.y + view.height * 0.5
    finger = Finger(x0, y0, device='bench').down()
    # Start the drag (past the slop) before timing: a held finger in "drag" state never turns
    # into a long press, and each timed move is then one Dragged gesture → one target.
    EventLoop.idle()
    finger.move_to(x0 + 20, y0)
    EventLoop.idle()

    def finger_up() -> None:
        try:
            finger.up()
            EventLoop.idle()
        except Exception:  # cleanup must go on
            pass

    stack.callback(finger_up)

    samples: list[Sample] = []
    not_at_rest = 0
    period = 1.0 / args.bridge_rate
    for i in range(args.samples):
        if not graph.idle_until(graph.at_rest, args.settle_timeout):
            not_at_rest += 1
        with probe.lock:
            resting_cmd = probe.commands[-1][1]
        resting_goals = tap.snapshot()[-1][1]
        # Alternate between two points so the arm goes back and forth, one step each time.
        x = x0 + 20 + (args.step_px if i % 2 == 0 else 0.0)
        time.sleep(random.uniform(0.0, period))  # spread the touch over the bridge's cycle phase
        with probe.lock:
            n_pose = len(probe.poses)
        t_touch = time.monotonic()
        finger.move_to(x, y0)
        samples.append(_measure(t_touch, n_pose, resting_cmd, resting_goals, probe, tap))
    return samples, not_at_rest


def _measure(
    t_touch: float,
    n_pose: int,
    resting_cmd: tuple[float, ...],
    resting_goals: bytes,
    probe: Probe,
    tap: FrameTap,
    timeout: float = 2.0,
) -> Sample:
    """Wait (sleeping, not rendering) until the touch has reached the device; read the times."""
    t_pose = t_cmd = t_frame = t_move = math.nan
    deadline = t_touch + timeout
    while time.monotonic() < deadline:
        with probe.lock:
            if math.isnan(t_pose) and len(probe.poses) > n_pose:
                t_pose = probe.poses[n_pose]
            if math.isnan(t_cmd):
                for t, data in probe.commands:
                    if t >= t_touch and data != resting_cmd:
                        t_cmd = t
                        break
        for t, goals in tap.snapshot():
            if math.isnan(t_frame) and not math.isnan(t_cmd) and t > t_cmd:
                t_frame = t
            if math.isnan(t_move) and t > t_touch and goals != resting_goals:
                t_move = t
        if not (
            math.isnan(t_pose) or math.isnan(t_cmd) or math.isnan(t_frame) or math.isnan(t_move)
        ):
            break
        time.sleep(0.0005)

    def ms(t: float) -> float:
        return (t - t_touch) * 1e3

    return Sample(ms(t_pose), ms(t_cmd), ms(t_frame), ms(t_move))


ROWS = (
    ('touch → target_pose (probe)', 'pose_ms'),
    ('touch → first changed command (probe)', 'cmd_ms'),
    ('(a) touch → first goal frame after that command', 'frame_ms'),
    ('(b) touch → first goal frame with changed goals', 'move_ms'),
)


def _report(args: argparse.Namespace, samples: list[Sample], info: dict[str, Any]) -> int:
    print(
        f'bench e2e: {ARM} virtual arm (Feetech STS on a pty), '
        f'serial_bridge {info["bridge_rate"]:g} Hz, '
        f'teleop {info["teleop_rate"]:g} Hz, {len(samples)} touches, '
        f'load average {info["load_average"]:.1f}'
    )
    print(f'{"path":50s} {"n":>4} {"p50 ms":>8} {"p99 ms":>8} {"max ms":>8}')
    results: dict[str, Any] = {'bench': 'e2e', **info, 'samples': len(samples)}
    ok = True
    for label, key in ROWS:
        values = [getattr(s, key) for s in samples if not math.isnan(getattr(s, key))]
        p50, p99 = percentile(values, 50), percentile(values, 99)
        worst = max(values) if values else float('nan')
        print(f'{label:50s} {len(values):4d} {p50:8.2f} {p99:8.2f} {worst:8.2f}')
        results[key] = {'n': len(values), 'p50': p50, 'p99': p99, 'max': worst}
        ok = ok and bool(values)
    if info['not_at_rest']:
        print(
            f'  {info["not_at_rest"]} sample(s) started before the arm was fully at rest '
            '(settle timeout)'
        )
    half, full = info['ramp_half_unit_ms'], info['ramp_full_unit_ms']
    print(
        '  (a) the bridge runs a cycle as soon as a command arrives (at most one cycle in flight, '
        f'{1e3 / info["bridge_rate"]:.0f} ms period at {info["bridge_rate"]:g} Hz); '
        'the frame may still carry the old goals.\n'
        "  (b) includes the start of teleop's jerk-limited ramp: "
        'a goal is a whole raw unit (1.53 mrad), so it\n'
        "      changes only when a joint's plan crosses a rounding boundary 0-1 unit away; "
        'from rest at\n'
        f"      {ARM}'s jerk limits that takes {half[0]:.0f}-{half[1]:.0f} ms for half a unit, "
        f'{full[0]:.0f}-{full[1]:.0f} ms for a full one.'
    )
    save_json(getattr(args, 'json', None), results)
    return 0 if ok else 1
