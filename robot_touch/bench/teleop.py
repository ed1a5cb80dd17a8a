"""
`robot-touch bench teleop`: target → command latency and loop period jitter of the teleop node.

The teleop node runs as its own process (as in `robot-touch run`); this process plays the
UI and a perfect arm (joint_states = the last command, 100 Hz) over real DDS on localhost.

* Latency: with the arm at rest, publish a target_pose 5-10 mm away and time until the first
  forward_position_controller/commands message that differs from the held position (both
  times on this process's monotonic clock, so DDS both ways, IK and one cycle are included).
  Publish times are spread over the control period at random.
* Jitter: while a joint_jog stream (50 Hz) keeps the arm moving, the intervals between
  command arrivals; jitter = |interval − period|. Measured at the receiver, so DDS and this
  process's executor add to the node's own timing error. ``--realtime-priority N`` runs the
  node's control thread (and this process's receiving thread) with SCHED_FIFO priority N.

Targets (issue 3): latency p50 ≤ 3 ms, p99 ≤ 8 ms; jitter p99 ≤ 1 ms at 250 Hz.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
import os
import random
import sys
import threading
import time
from typing import Any

import numpy as np
from robot_touch.bench.stats import save_json


@dataclass
class TeleopBenchRow:
    rate_hz: float
    samples: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    intervals: int
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_max_ms: float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--arm', default='so101', help='arm profile (default so101)')
    parser.add_argument(
        '--rates', type=float, nargs='+', default=[100.0, 250.0], help='control rates to test (Hz)'
    )
    parser.add_argument(
        '--samples', type=int, default=100, help='latency samples per rate (default 100)'
    )
    parser.add_argument(
        '--jitter-seconds', type=float, default=5.0, help='seconds of jitter measurement per rate'
    )
    parser.add_argument(
        '--realtime-priority',
        type=int,
        default=0,
        help="the node's realtime_priority parameter (SCHED_FIFO 1-99; 0 = off)",
    )


def run(args: argparse.Namespace) -> int:
    sys.setswitchinterval(0.0005)  # as in the node: arrival stamps not delayed by GIL hand-off
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.SystemRandom().randint(1, 101)))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    rows = [
        _bench_rate(args.arm, rate, args.samples, args.jitter_seconds, args.realtime_priority)
        for rate in args.rates
    ]
    print(
        f'{"rate Hz":>8} {"n":>5} {"lat p50 ms":>11} {"lat p99 ms":>11} {"lat max ms":>11} '
        f'{"intervals":>9} {"jit p50 ms":>11} {"jit p99 ms":>11} {"jit max ms":>11}'
    )
    for r in rows:
        print(
            f'{r.rate_hz:8.0f} {r.samples:5d} {r.latency_p50_ms:11.2f} '
            f'{r.latency_p99_ms:11.2f} {r.latency_max_ms:11.2f} '
            f'{r.intervals:9d} {r.jitter_p50_ms:11.3f} {r.jitter_p99_ms:11.3f} '
            f'{r.jitter_max_ms:11.3f}'
        )
    save_json(getattr(args, 'json', None), [asdict(r) for r in rows])
    return 0


def _bench_rate(
    arm: str, rate: float, samples: int, jitter_seconds: float, rt_priority: int = 0
) -> TeleopBenchRow:
    import subprocess

    from geometry_msgs.msg import PoseStamped
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from robot_touch.core.kinematics import ArmKinematics
    from robot_touch.core.profile import load_profile
    from robot_touch.graph import command_line, ProcessSpec
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    profile = load_profile(arm)
    kin = ArmKinematics(profile)
    names = profile.joint_names + ([profile.gripper.name] if profile.gripper else [])
    start = [0.0, 0.3, 0.3] + [0.0] * (profile.dof - 3) + ([0.0] if profile.gripper else [])
    spec = ProcessSpec(
        'teleop',
        'teleop',
        'robot_touch.nodes.teleop',
        parameters={'arm': arm, 'rate': float(rate), 'realtime_priority': rt_priority},
    )
    proc = subprocess.Popen(
        command_line(spec), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('bench_teleop', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    lock = threading.Lock()
    state = {'q': list(start)}
    arrivals: list[tuple[float, tuple[float, ...]]] = []

    def on_command(msg: Any) -> None:
        t = time.monotonic()
        data = tuple(msg.data)
        with lock:
            arrivals.append((t, data))
            state['q'] = list(data)

    node.create_subscription(
        Float64MultiArray, 'forward_position_controller/commands', on_command, 100
    )
    js_pub = node.create_publisher(JointState, 'joint_states', 10)
    target_pub = node.create_publisher(PoseStamped, 'target_pose', 10)
    jog_pub = node.create_publisher(JointState, 'joint_jog', 10)

    def publish_joint_states() -> None:
        with lock:
            q = state['q']
        js_pub.publish(JointState(name=names, position=[float(v) for v in q]))

    node.create_timer(0.01, publish_joint_states)
    spinner = threading.Thread(target=lambda: _spin(executor, context, rt_priority), daemon=True)
    spinner.start()
    period = 1.0 / rate
    if rt_priority > 1:
        try:  # this (polling and publishing) thread too: it shares the GIL with the receiver
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority - 1))
        except (PermissionError, OSError):
            pass
    try:
        if not _wait(lambda: len(arrivals) > 10 and target_pub.get_subscription_count() > 0, 30.0):
            raise RuntimeError('teleop node did not start within 30 s')
        rng = np.random.default_rng(3)
        latencies: list[float] = []
        base = kin.fk(start[: profile.dof])
        for i in range(samples):
            if not _wait(lambda: _settled(arrivals, lock), 5.0):
                continue
            with lock:
                held = arrivals[-1][1]
                n0 = len(arrivals)
            T = base.copy()
            offset = rng.uniform(0.005, 0.01) * (1 if i % 2 else -1)
            T[0, 3] += offset
            msg = _pose(T)
            time.sleep(rng.uniform(0.0, period))  # spread publish times over the loop phase
            t0 = time.monotonic()
            target_pub.publish(msg)

            def reflected() -> float | None:
                with lock:
                    for t, data in arrivals[n0:]:
                        if data != held:
                            return t
                return None

            t1 = _wait(reflected, 2.0)
            if t1:
                latencies.append((t1 - t0) * 1e3)
        # Jitter: keep the arm moving with a joint_jog stream (no event-triggered cycles).
        with lock:
            n0 = len(arrivals)
        t_end = time.monotonic() + jitter_seconds
        k = 0
        while time.monotonic() < t_end:
            v = 0.3 if (k // 25) % 2 == 0 else -0.3
            jog_pub.publish(JointState(name=[profile.joint_names[0]], velocity=[v]))
            k += 1
            time.sleep(0.02)
        with lock:
            times = np.array([t for t, _ in arrivals[n0:]])
        intervals = np.diff(times)
        jitter = np.abs(intervals - period) * 1e3
        lat = np.array(latencies) if latencies else np.array([np.nan])
        return TeleopBenchRow(
            rate_hz=rate,
            samples=len(latencies),
            latency_p50_ms=float(np.percentile(lat, 50)),
            latency_p99_ms=float(np.percentile(lat, 99)),
            latency_max_ms=float(np.max(lat)),
            intervals=len(intervals),
            jitter_p50_ms=float(np.percentile(jitter, 50)) if len(jitter) else float('nan'),
            jitter_p99_ms=float(np.percentile(jitter, 99)) if len(jitter) else float('nan'),
            jitter_max_ms=float(np.max(jitter)) if len(jitter) else float('nan'),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        spinner.join(timeout=2.0)


def _spin(executor: Any, context: Any, rt_priority: int = 0) -> None:
    if rt_priority > 0:
        try:  # the receiving side too, or its own scheduling delays would count as jitter
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(rt_priority))
        except (PermissionError, OSError):
            pass
    while context.ok():
        try:
            executor.spin_once(timeout_sec=0.05)
        except Exception:  # shutdown races end the spinner
            return


def _wait(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.0002)
    return None


def _settled(arrivals: list, lock: threading.Lock, count: int = 5) -> bool:
    """Return whether the last ``count`` commands are identical: the arm holds still."""
    with lock:
        tail = arrivals[-count:]
    return len(tail) == count and all(d == tail[0][1] for _t, d in tail)


def _pose(T: np.ndarray) -> Any:
    from geometry_msgs.msg import PoseStamped

    R = T[:3, :3]
    w = np.sqrt(max(0.0, 1 + np.trace(R))) / 2
    msg = PoseStamped()
    msg.header.frame_id = ''
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in T[:3, 3])
    msg.pose.orientation.x = float((R[2, 1] - R[1, 2]) / (4 * w))
    msg.pose.orientation.y = float((R[0, 2] - R[2, 0]) / (4 * w))
    msg.pose.orientation.z = float((R[1, 0] - R[0, 1]) / (4 * w))
    msg.pose.orientation.w = float(w)
    return msg
