"""
What `robot-touch run` shows in its status line: the graph as seen over ROS.

A small rclpy node in the runner's own process listens, in the graph's namespace, to
``joint_states`` (rate), the command topic (rate), ``teleop/status`` (code, e-stop, enable)
and the bridge's ``diagnostics`` (connection: port missing, retrying, stale servos), and looks
at the ROS graph for conflicts (two commanders). Message handling is kept apart from the text
(:class:`GraphHealth`) so the text is tested without ROS.
"""

from __future__ import annotations

from collections import deque
import threading
import time


class GraphHealth:
    """Rates and codes seen on the graph's topics, and the one-line summary of them."""

    def __init__(self, window: float = 2.0) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._joint_times: deque[float] = deque(maxlen=2000)
        self._command_times: deque[float] = deque(maxlen=2000)
        self._teleop: str | None = None
        self._teleop_values: dict[str, str] = {}
        self._hardware: tuple[int, str, float] | None = None
        self._conflicts: list[str] = []

    def joint_states(self, now: float) -> None:
        with self._lock:
            self._joint_times.append(now)

    def command(self, now: float) -> None:
        with self._lock:
            self._command_times.append(now)

    def teleop_status(self, code: str, values: dict[str, str] | None = None) -> None:
        with self._lock:
            self._teleop = code
            self._teleop_values = dict(values or {})

    def hardware(self, level: int, message: str, now: float) -> None:
        """Record the hardware driver's connection status (diagnostic level 0 OK .. 3 STALE)."""
        with self._lock:
            self._hardware = (level, message, now)

    def seen_teleop(self) -> bool:
        """Return whether a teleop status has arrived."""
        with self._lock:
            return self._teleop is not None

    def set_conflicts(self, conflicts: list[str]) -> None:
        with self._lock:
            self._conflicts = list(conflicts)

    def _rate(self, times: deque[float], now: float) -> float:
        recent = [t for t in times if now - t <= self.window]
        return len(recent) / self.window

    def summary(self, now: float) -> str:
        """
        e.g. "joint_states 100 Hz · commands 100 Hz · teleop ok, enabled".

        Problems first ("CONFLICT: ...", "E-STOP latched", "bridge ERROR: port ... cannot be opened
        ...").
        """
        with self._lock:
            joints = self._rate(self._joint_times, now)
            commands = self._rate(self._command_times, now)
            teleop, values = self._teleop, dict(self._teleop_values)
            hardware = self._hardware
            conflicts = list(self._conflicts)
        parts = [f'CONFLICT: {c}' for c in conflicts]
        if values.get('estop') == 'true':
            parts.append('E-STOP latched')
        if values.get('free_drive'):
            released = values['free_drive'].replace(',', ', ')
            parts.append(f'FREE DRIVE: {released} released (torque off)')
        if hardware is not None and hardware[0] >= 1:
            parts.append(f'bridge {"WARN" if hardware[0] == 1 else "ERROR"}: {hardware[1]}')
        parts.append(f'joint_states {joints:.0f} Hz' if joints else 'no joint_states yet')
        parts.append(f'commands {commands:.0f} Hz')
        if teleop is None:
            parts.append('teleop: no status yet')
        elif 'enabled' in values:
            parts.append(
                f'teleop {teleop}, {"enabled" if values["enabled"] == "true" else "disabled"}'
            )
        else:
            parts.append(f'teleop {teleop}')
        return ' · '.join(parts)


class RunMonitor:
    """
    Spins a listener node in a background thread; :meth:`summary` is safe from any thread.

    :param namespace: the graph's namespace ("" for none).
    """

    def __init__(self, namespace: str = '') -> None:
        self.health = GraphHealth()
        self._context = None
        self._executor = None
        self._thread: threading.Thread | None = None
        self._node = None
        self._namespace = namespace

    def start(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64MultiArray

        # A context of its own: the runner must not take over Ctrl-C (rclpy's signal handlers).
        self._context = rclpy.Context()
        rclpy.init(
            args=[],
            context=self._context,
            signal_handler_options=rclpy.signals.SignalHandlerOptions.NO,
        )
        node = rclpy.create_node(
            'run_monitor', namespace=self._namespace or None, context=self._context
        )
        h = self.health
        node.create_subscription(
            JointState,
            'joint_states',
            lambda _m: h.joint_states(time.monotonic()),
            qos_profile_sensor_data,
        )
        node.create_subscription(
            Float64MultiArray,
            'forward_position_controller/commands',
            lambda _m: h.command(time.monotonic()),
            10,
        )
        node.create_subscription(
            DiagnosticStatus,
            'teleop/status',
            lambda m: h.teleop_status(
                (m.message or '?').split(':')[0], {kv.key: kv.value for kv in m.values}
            ),
            10,
        )
        node.create_subscription(DiagnosticArray, 'diagnostics', self._on_diagnostics, 10)
        self._node = node
        node.create_timer(1.0, self._check_ownership)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, name='run_monitor', daemon=True)
        self._thread.start()

    def _on_diagnostics(self, msg) -> None:  # diagnostic_msgs/DiagnosticArray
        for status in msg.status:
            if status.name.endswith(': connection'):  # the hardware driver's own line
                level = (
                    status.level[0]
                    if isinstance(status.level, (bytes, bytearray))
                    else int(status.level)
                )
                self.health.hardware(level, status.message, time.monotonic())

    def _snapshot(self):  # ownership.GraphSnapshot
        from robot_touch.ownership import graph_snapshot

        return graph_snapshot(
            self._node, self._namespace, exclude=(self._node.get_fully_qualified_name(),)
        )

    def _check_ownership(self) -> None:
        from robot_touch.ownership import conflicts

        self.health.set_conflicts(conflicts(self._snapshot()))

    def graph_already_running(self, seconds: float = 1.5) -> list[str]:
        """
        Before our graph starts.

        The robot_touch nodes (or publishers on the arm's topics) already in this domain and
        namespace, watched for ``seconds`` of discovery.
        """
        from robot_touch.ownership import running_graph, watch

        def found(snap) -> list[str]:
            publishers = {n for names in snap.publishers.values() for n in names}
            return sorted(set(running_graph(snap)) | publishers)

        return watch(self._snapshot, seconds, found)

    def _spin(self) -> None:
        try:
            self._executor.spin()
        except Exception:  # shutting down: the status line just stops updating
            pass

    def summary(self) -> str:
        return self.health.summary(time.monotonic())

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(timeout_sec=1.0)
        if self._context is not None:
            self._context.try_shutdown()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
