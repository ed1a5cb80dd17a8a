"""
`robot-touch bench ui`.

Frame time of the touch UI while the arm moves, and the latency from a touch event to the
``target_pose`` message arriving at a subscriber.

The real app runs (on $DISPLAY, or on a private Xvfb when there is none) with its ROS node; a
second node in the same process publishes a moving arm on ``joint_states`` at 100 Hz and
subscribes to ``target_pose``. Kivy's loop runs unthrottled (maxfps 0) so a frame's time is its
work: input, the app's refresh (joint states, FK, status line), redraw of both views, GL submit.
A frame is a turn of the loop that drew (the window flipped): the app takes the arm's state every
``REFRESH_PERIOD`` and redraws only what moved, so the turns between two frames have nothing to
do and are not timed (timing them too gave a median of 0.01 ms: no frame in the sample drew).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

from robot_touch.bench.stats import percentile, save_json
from robot_touch.display import Xvfb


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--frames', type=int, default=600, help='frames to time while the arm moves (default 600)'
    )
    parser.add_argument(
        '--touches', type=int, default=200, help='touch moves to time to target_pose (default 200)'
    )
    parser.add_argument('--size', default='1280x800', help='window size WxH (default 1280x800)')


def run(args: argparse.Namespace) -> int:
    width, height = (int(v) for v in args.size.lower().split('x'))
    os.environ['KIVY_NO_ARGS'] = '1'
    os.environ.setdefault('KIVY_NO_CONSOLELOG', '1')
    if os.environ.get('DISPLAY'):
        return _run(args, width, height)
    with Xvfb(size='1600x1600') as xvfb:  # big enough for either orientation
        os.environ['DISPLAY'] = xvfb.display
        try:
            return _run(args, width, height)
        finally:
            del os.environ['DISPLAY']


def _run(args: argparse.Namespace, width: int, height: int) -> int:
    from kivy.config import Config

    Config.set('graphics', 'width', str(width))
    Config.set('graphics', 'height', str(height))
    Config.set('graphics', 'maxfps', '0')
    Config.set('kivy', 'exit_on_escape', '0')

    from geometry_msgs.msg import PoseStamped
    import rclpy
    from robot_touch.nodes.touch_ui import start_node, stop_node
    from sensor_msgs.msg import JointState

    node, executor, thread = start_node([])
    probe = rclpy.create_node('bench_ui_probe')
    received: list[tuple[float, float]] = []  # (perf_counter at receipt, x)
    probe.create_subscription(
        PoseStamped,
        'target_pose',
        lambda m: received.append((time.perf_counter(), m.pose.position.x)),
        100,
    )
    js_pub = probe.create_publisher(JointState, 'joint_states', 10)
    names = node.profile.joint_names
    t0 = time.monotonic()

    def publish_arm() -> None:
        t = time.monotonic() - t0
        msg = JointState(
            name=names, position=[0.4 * math.sin(0.8 * t + i) for i in range(len(names))]
        )
        js_pub.publish(msg)

    probe.create_timer(0.01, publish_arm)
    executor.add_node(probe)

    from kivy.base import EventLoop
    from robot_touch.ui.app import REFRESH_PERIOD, RobotTouchApp
    from robot_touch.ui.embedded import start_embedded, stop_embedded
    from robot_touch.ui.synthetic_touch import Finger

    app = RobotTouchApp(backend=node, profile=node.profile, settings=node.ui_settings())

    results: dict[str, float] = {}
    try:
        start_embedded(app)
        deadline = time.monotonic() + 20
        while (
            node.latest_joint_state() is None or node.pub_target.get_subscription_count() == 0
        ) and time.monotonic() < deadline:
            EventLoop.idle()
        if node.latest_joint_state() is None:
            print('bench ui: no joint_states arrived (DDS discovery failed)')
            return 1
        for _ in range(30):  # warm-up: textures, shaders
            EventLoop.idle()

        # Time the buffer swap apart: under Xvfb it is where Mesa's software renderer
        # (llvmpipe) rasterises the frame, which a GPU does in a fraction of a millisecond.
        window = EventLoop.window
        swaps: list[float] = []
        real_flip = window.flip

        def timed_flip() -> None:
            start = time.perf_counter()
            real_flip()
            swaps.append(time.perf_counter() - start)

        window.flip = timed_flip
        frames = []
        frame_swaps = []
        deadline = time.monotonic() + 10 + 3 * args.frames * REFRESH_PERIOD
        while len(frames) < args.frames and time.monotonic() < deadline:
            start = time.perf_counter()
            n = len(swaps)
            EventLoop.idle()
            if len(swaps) > n:  # it drew: a frame (else a turn with nothing to do)
                frames.append(time.perf_counter() - start)
                frame_swaps.append(sum(swaps[n:]))
        window.flip = real_flip
        if not frames:
            print('bench ui: the app drew no frame while the arm moved')
            return 1

        view = app.root.ids.top_view
        x0, y0 = view.x + view.width * 0.3, view.y + view.height * 0.5
        finger = Finger(x0, y0, device='bench').down()
        EventLoop.idle()
        latencies = []
        interval = 1.0 / app.settings.max_publish_rate
        last_sent = 0.0
        lost = 0
        for i in range(args.touches):
            # Space the moves so the rate limiter lets each through at once: the figure is the
            # path touch → gesture → target → DDS → subscriber, not the coalescing wait.
            while time.perf_counter() - last_sent < interval * 1.05:
                EventLoop.idle()
            x = (
                x0
                + 20
                + 2 * (i % 100) * (1 if (i // 100) % 2 == 0 else -1)
                + (200 if (i // 100) % 2 else 0)
            )
            before = len(received)
            sent = time.perf_counter()
            finger.move_to(x, y0)
            last_sent = sent
            wait_until = sent + 1.0
            while len(received) == before and time.perf_counter() < wait_until:
                EventLoop.idle()
            if len(received) == before:
                lost += 1
                continue
            latencies.append(received[before][0] - sent)
        finger.up()
        EventLoop.idle()

        ms = [f * 1000 for f in frames]
        work = [(f - s) * 1000 for f, s in zip(frames, frame_swaps)]
        lat = [v * 1000 for v in latencies]
        results = {
            'frames': len(ms),
            'frame_ms_median': round(statistics.median(ms), 2),
            'frame_ms_p99': round(percentile(ms, 99), 2),
            'frame_cpu_ms_median (without swap)': round(statistics.median(work), 2),
            'frame_cpu_ms_p99 (without swap)': round(percentile(work, 99), 2),
            'touches': len(lat),
            'touches_lost': lost,
            'touch_to_target_pose_ms_median': round(statistics.median(lat), 2)
            if lat
            else float('nan'),
            'touch_to_target_pose_ms_p99': round(percentile(lat, 99), 2) if lat else float('nan'),
        }
    finally:
        try:
            stop_embedded(app)
        except Exception:  # the node must still shut down
            pass
        executor.remove_node(probe)
        probe.destroy_node()
        stop_node(node, executor, thread)

    print(f'touch UI {width}x{height}, arm moving (joint_states 100 Hz)')
    for key, value in results.items():
        print(f'  {key:34s} {value}')
    save_json(getattr(args, 'json', None), {'bench': 'ui', 'size': f'{width}x{height}', **results})
    return 0 if results.get('touches') else 1
