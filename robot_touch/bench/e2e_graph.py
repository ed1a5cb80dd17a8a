"""
The graph under test of ``robot-touch bench e2e``, with both of its ends in this process.

:func:`start_graph` brings up, in this order: Xvfb (when there is no ``$DISPLAY``), the virtual
arm with a :class:`~robot_touch.bench.frame_tap.FrameTap` on its device, ``serial_bridge`` and
``teleop`` as child processes (:class:`~robot_touch.runner.Supervisor`), the touch UI's node,
the :class:`Probe` and the touch UI app; it returns once commands and goal frames flow. The
caller's ExitStack stops everything in reverse order. What is timed, and how, is in
:mod:`robot_touch.bench.e2e`.
"""

from __future__ import annotations

import argparse
from collections import deque
from contextlib import ExitStack
import dataclasses
import os
import signal
import sys
import tempfile
import threading
import time
from typing import Any, Callable

from robot_touch.bench.frame_tap import FrameTap

ARM = 'so101'


class BenchFailed(Exception):
    """The benchmark cannot go on (graph did not come up)."""


class TailLog:
    """A text stream that keeps the last lines of the children's output (shown on failure)."""

    def __init__(self, echo: bool, lines: int = 200) -> None:
        self.echo = echo
        self.lines: deque[str] = deque(maxlen=lines)

    def write(self, text: str) -> int:
        """Keep the non-empty lines of ``text`` (and echo it with ``--verbose``)."""
        self.lines.extend(line for line in text.splitlines() if line)
        if self.echo:
            sys.stderr.write(text)
        return len(text)

    def flush(self) -> None:
        """Flush the echo."""
        if self.echo:
            sys.stderr.flush()


class Probe:
    """
    A node that stamps ``target_pose`` and ``forward_position_controller/commands`` on arrival.

    It spins in its own thread: its receive stamps do not wait for the UI's executor. Read
    :attr:`poses` and :attr:`commands` under :attr:`lock`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: arrival of each target_pose
        self.poses: list[float] = []
        #: (arrival, data) of the latest commands
        self.commands: list[tuple[float, tuple[float, ...]]] = []

    def on_pose(self, _msg: Any) -> None:
        """Stamp a target_pose."""
        t = time.monotonic()
        with self.lock:
            self.poses.append(t)

    def on_command(self, msg: Any) -> None:
        """Stamp a command and keep its data."""
        t = time.monotonic()
        data = tuple(msg.data)
        with self.lock:
            self.commands.append((t, data))
            if len(self.commands) > 4096:
                del self.commands[:2048]

    def n_commands(self) -> int:
        """Return how many commands are held."""
        with self.lock:
            return len(self.commands)

    def start(self, stack: ExitStack) -> None:
        """Create the node, spin it in a thread; ``stack`` stops it (rclpy must still be up)."""
        from geometry_msgs.msg import PoseStamped
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from std_msgs.msg import Float64MultiArray

        probe = rclpy.create_node('bench_e2e_probe')
        probe.create_subscription(PoseStamped, 'target_pose', self.on_pose, 10)
        probe.create_subscription(
            Float64MultiArray, 'forward_position_controller/commands', self.on_command, 100
        )
        probe_executor = SingleThreadedExecutor()
        probe_executor.add_node(probe)
        probe_thread = threading.Thread(
            target=_spin, args=(probe_executor,), name='bench_e2e_probe', daemon=True
        )
        probe_thread.start()

        def stop_probe() -> None:
            probe_executor.shutdown(timeout_sec=1.0)
            probe_thread.join(timeout=2.0)
            probe.destroy_node()

        stack.callback(stop_probe)


def _spin(executor: Any) -> None:
    try:
        executor.spin()
    except Exception:  # shutdown races end the spinner
        pass


@dataclasses.dataclass
class E2eGraph:
    """
    What :func:`start_graph` brought up.

    :ivar arm: the :class:`~robot_touch.virtual_arm.server.VirtualArm` (in this process).
    :ivar tap: the goal frames arriving at its device.
    :ivar supervisor: the child processes.
    :ivar node: the touch UI's node.
    :ivar probe: the probe node.
    :ivar app: the touch UI app (embedded: its loop runs only in :meth:`idle_until`).
    """

    arm: Any
    tap: FrameTap
    supervisor: Any
    node: Any
    probe: Probe
    app: Any

    def idle_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """
        Run the Kivy loop until ``predicate`` holds or ``timeout`` (s) passes.

        :returns: the predicate's last answer.
        :raises BenchFailed: a child process exited.
        """
        from kivy.base import EventLoop

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            EventLoop.idle()
            dead = self.supervisor.first_exit()
            if dead is not None:
                raise BenchFailed(f'{dead.spec.name} exited with code {dead.popen.returncode}')
        return predicate()

    def at_rest(self) -> bool:
        """Return whether the commands and goal frames stopped changing and no servo moves."""
        with self.probe.lock:
            tail = [d for _t, d in self.probe.commands[-8:]]
        frames = self.tap.snapshot()[-5:]
        return (
            len(tail) == 8
            and all(d == tail[0] for d in tail)
            and len(frames) == 5
            and all(f[1] == frames[0][1] for f in frames)
            and not any(s.moving for s in self.arm.servos.values())
        )


def start_graph(args: argparse.Namespace, stack: ExitStack, log: TailLog) -> E2eGraph:
    """
    Bring the graph up for ``args`` and wait (40 s at most) until commands and frames flow.

    :param stack: stops everything started, in reverse order.
    :param log: takes the child processes' output.
    :raises BenchFailed: the graph did not come up, or a child process exited.
    """
    from robot_touch.display import has_display, Xvfb

    if not has_display():
        # Everything started below (children included) must see the display we make.
        xvfb = stack.enter_context(Xvfb(size='1600x1600'))
        os.environ['DISPLAY'] = xvfb.display

    from robot_touch.virtual_arm.server import VirtualArm

    link = args.link or os.path.join(
        tempfile.gettempdir(), f'robot_touch_{os.getuid()}_bench_e2e_{os.getpid()}.tty'
    )
    arm = VirtualArm(ARM, link=link)
    if arm.protocol != 'feetech_sts':
        raise BenchFailed(f'the frame tap reads Feetech STS frames; {ARM} uses {arm.protocol}')
    tap = FrameTap(arm.device)
    arm.start()
    stack.callback(arm.stop)

    supervisor = _start_children(args, link, stack, log)

    width, height = (int(v) for v in args.size.lower().split('x'))
    from kivy.config import Config

    Config.set('graphics', 'width', str(width))
    Config.set('graphics', 'height', str(height))
    Config.set('kivy', 'exit_on_escape', '0')

    from robot_touch.nodes.touch_ui import start_node, stop_node

    node, ui_executor, ui_thread = start_node([])
    stack.callback(stop_node, node, ui_executor, ui_thread)
    # rclpy.init (in start_node) took SIGINT to shut its context down, which leaves this loop
    # running against dead nodes; make Ctrl-C a KeyboardInterrupt again so the ExitStack
    # stops everything in order.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    probe = Probe()
    probe.start(stack)  # stops before stop_node (LIFO): rclpy is still up

    from kivy.base import EventLoop
    from robot_touch.ui.app import RobotTouchApp
    from robot_touch.ui.embedded import start_embedded, stop_embedded

    app = RobotTouchApp(backend=node, profile=node.profile, settings=node.ui_settings())

    def stop_app() -> None:
        try:
            stop_embedded(app)
        except Exception:  # the nodes and processes must still stop
            pass

    start_embedded(app)
    stack.callback(stop_app)

    graph = E2eGraph(arm=arm, tap=tap, supervisor=supervisor, node=node, probe=probe, app=app)
    if not graph.idle_until(
        lambda: (
            node.latest_joint_state() is not None
            and probe.n_commands() > 10
            and tap.count > 10
            and node.pub_target.get_subscription_count() >= 2
        ),
        40.0,
    ):
        raise BenchFailed(
            'the graph did not come up within 40 s '
            f'(joint_states: {node.latest_joint_state() is not None}, '
            f'commands: {probe.n_commands()}, goal frames at the arm: {tap.count}, '
            f'target_pose subscribers: {node.pub_target.get_subscription_count()})'
        )
    for _ in range(10):  # warm-up: textures, shaders
        EventLoop.idle()
    return graph


def _start_children(args: argparse.Namespace, link: str, stack: ExitStack, log: TailLog) -> Any:
    """Start serial_bridge (``--bridge-rate``, on ``link``) and teleop; return the Supervisor."""
    from robot_touch.graph import describe, GraphConfig
    from robot_touch.runner import GraphFailed, Supervisor

    specs = []
    for spec in describe(
        GraphConfig(
            arm=ARM, backend='virtual', ui=False, virtual_link=link, control_rate=args.teleop_rate
        )
    ):
        if spec.name == 'virtual_arm':
            continue  # ours, in this process
        if spec.name == 'serial_bridge':
            spec = dataclasses.replace(
                spec, parameters={**spec.parameters, 'rate': float(args.bridge_rate)}
            )
        specs.append(spec)
    supervisor = Supervisor(specs, out=log)  # type: ignore[arg-type]  # a write/flush stream
    stack.callback(supervisor.stop, 3.0)
    try:
        supervisor.start()
    except GraphFailed as exc:
        raise BenchFailed(str(exc)) from None
    return supervisor
