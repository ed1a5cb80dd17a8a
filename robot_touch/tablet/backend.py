"""
The touch app's second :class:`~robot_touch.ui.app.UiBackend`.

The arm through the gateway, over roslibpy (rosbridge v2 on a pinned wss link), without ROS on the
tablet.

It keeps what the app polls (joint states, teleop status, the lease, the link state and its
round-trip time, the arm's description once it has arrived) under a lock; roslibpy's loop
thread writes, Kivy's thread reads. Motion goes out only while the link is up, authenticated,
and this tablet holds the control lease — never queued for later: a command that cannot go
now is dropped, so a reconnect never replays stale targets. E-stop goes out whenever the link
is up, lease or not.

Topic and service names are relative: the gateway serves its arm's namespace.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import sys
import threading
import time
from typing import Any, Callable, Mapping, Sequence

from robot_touch.tablet.link import PinnedRos
from robot_touch.ui.command_rate import CommandRate
from robot_touch.ui.feedback import status_code
import roslibpy

#: Seconds between round-trip probes (gateway/ping).
PING_PERIOD = 1.0
#: Joint states faster than this are not useful on a tablet screen (ms between messages).
JOINT_STATES_THROTTLE_MS = 30


@dataclass(frozen=True)
class LinkState:
    """What the connection bar shows."""

    phase: str  # connecting | connected | disconnected | refused
    detail: str = ''
    rtt_ms: float | None = None
    holder: str = ''  # who holds control ("" = nobody)
    you_hold: bool = False


class RemoteBackend:
    """
    The arm over the gateway.

    :param url: the gateway (``wss://host:9090``).
    :param token: the pairing token.
    :param fingerprint: the gateway certificate's SHA-256 fingerprint (pinned).
    :param take_control: ask for the control lease on every (re)connection.
    :param base_link: frame_id of target poses ("" until the description has arrived: teleop takes
        "" as the base frame).
    """

    def __init__(
        self, url: str, token: str, fingerprint: str | None, take_control: bool = False
    ) -> None:
        self.url, self.token, self.fingerprint = url, token, fingerprint
        self.want_control = take_control
        self.base_link = ''
        self._lock = threading.Lock()
        self._phase, self._detail = 'connecting', ''
        self._authenticated = False
        self._rtt: float | None = None
        self._lease: dict[str, str] = {}
        self._joints: dict[str, float] = {}
        self._joints_stamp: float | None = None
        self._status: tuple[str, float] | None = None
        self._status_values: dict[str, str] = {}
        self._description: dict[str, str] = {}
        self._commands = CommandRate()
        self.messages: deque[str] = deque(maxlen=20)  # for the app to show (refusals, answers)
        self._ping_at = 0.0
        self.ros: PinnedRos | None = None

    # ------------------------------------------------------------------ link

    def start(self) -> None:
        """Connect (and keep reconnecting)."""
        # roslibpy's loop thread shares the GIL with the app's thread: with Python's default
        # 5 ms switch interval a frame could wait that long to leave.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        self.ros = PinnedRos(self.url, self.fingerprint, self.token)
        self.ros.on('ready', lambda _proto: self._on_open())
        self.ros.on('close', lambda _proto: self._on_close())
        self.ros.on('refused', self._on_refused)
        self.ros.on('unreachable', self._on_unreachable)
        self.ros.on('status', self._on_status_op)
        for topic, callback in (
            ('joint_states', self._on_joint_states),
            ('teleop/status', self._on_teleop_status),
            ('gateway/status', self._on_gateway_status),
            ('robot_description', lambda msg: self._on_description('urdf', msg)),
            ('arm_profile', lambda msg: self._on_description('profile', msg)),
        ):
            self.ros.on(topic, callback)

    def stop(self) -> None:
        if self.ros is not None:
            self.ros.factory.give_up()
            try:
                self.ros.close(timeout=2)
            except Exception:  # closing a link that is already gone
                pass

    def _on_open(self) -> None:
        # auth went out first (the link adapter); then the level, the subscriptions and a ping
        # whose answer says the gateway accepted us.
        with self._lock:
            self._phase, self._detail, self._authenticated = 'connecting', 'authenticating', False
        self._send({'op': 'set_level', 'level': 'warning'})
        subs = [
            ('gateway/status', 'diagnostic_msgs/msg/DiagnosticStatus', 0),
            ('joint_states', 'sensor_msgs/msg/JointState', JOINT_STATES_THROTTLE_MS),
            ('teleop/status', 'diagnostic_msgs/msg/DiagnosticStatus', 0),
            ('robot_description', 'std_msgs/msg/String', 0),
            ('arm_profile', 'std_msgs/msg/String', 0),
        ]
        for topic, kind, throttle in subs:
            self._send(
                {
                    'op': 'subscribe',
                    'id': f'tablet:{topic}',
                    'topic': topic,
                    'type': kind,
                    'throttle_rate': throttle,
                    'queue_length': 0,
                }
            )
        self._ping(first=True)

    def _on_close(self) -> None:
        with self._lock:
            if self._phase != 'refused':
                self._phase, self._detail = 'disconnected', 'reconnecting'
            self._authenticated = False
            self._lease = {}

    def _on_refused(self, reason: str) -> None:
        with self._lock:
            self._phase, self._detail, self._authenticated = 'refused', reason, False
        self.messages.append(reason)

    def _on_unreachable(self, reason: str) -> None:
        with self._lock:
            if self._phase != 'refused':
                self._phase, self._detail = 'disconnected', reason

    def _on_status_op(self, message: dict) -> None:
        text = str(message.get('msg', ''))
        if message.get('level') == 'error' and 'refused (auth)' in text:
            self._on_refused(text)
        else:
            self.messages.append(text)

    def _send(self, message: dict) -> bool:
        ros = self.ros
        if ros is None or not ros.is_connected:
            return False
        ros.send_on_ready(roslibpy.Message(message))
        return True

    def _call(
        self, service: str, args: dict, on_answer: Callable[[bool, Any], None] | None = None
    ) -> bool:
        ros = self.ros
        if ros is None or not ros.is_connected:
            return False
        message = roslibpy.Message(
            {
                'op': 'call_service',
                'id': f'call:{service}:{ros.id_counter}',
                'service': service,
                'args': args,
            }
        )

        def ok(values: Any) -> None:
            if on_answer:
                on_answer(True, values)
            elif (
                isinstance(values, Mapping)
                and values.get('success') is False
                and values.get('message')
            ):
                self.messages.append(f'{service}: {values["message"]}')

        def failed(values: Any) -> None:
            if on_answer:
                on_answer(False, values)
            else:
                self.messages.append(str(values))

        ros.call_async_service(message, ok, failed)
        return True

    def _ping(self, first: bool = False) -> None:
        sent = time.monotonic()

        def answer(ok: bool, _values: Any) -> None:
            now = time.monotonic()
            with self._lock:
                self._rtt = (now - sent) * 1000.0
                if ok and not self._authenticated:
                    self._authenticated = True
                    self._phase, self._detail = 'connected', ''
            if first and self.want_control:
                self.take_control()

        self._ping_at = sent
        self._call('gateway/ping', {}, answer)

    def poll(self) -> None:
        """Call by the app every frame or so: sends the periodic round-trip probe."""
        if (
            self.link_state().phase == 'connected'
            and time.monotonic() - self._ping_at > PING_PERIOD
        ):
            self._ping()

    def take_control(self) -> bool:
        def answer(ok: bool, values: Any) -> None:
            text = values.get('message', '') if isinstance(values, Mapping) else str(values)
            if not (ok and isinstance(values, Mapping) and values.get('success')):
                self.messages.append(text)

        return self._call('gateway/take_control', {}, answer)

    def release_control(self) -> bool:
        return self._call('gateway/release_control', {}, lambda _ok, _v: None)

    # ------------------------------------------------------------------ incoming (loop thread)

    def _on_joint_states(self, msg: Mapping[str, Any]) -> None:
        with self._lock:
            for name, pos in zip(msg.get('name', []), msg.get('position', [])):
                if pos is not None:
                    self._joints[name] = float(pos)
            self._joints_stamp = time.monotonic()

    def _on_teleop_status(self, msg: Mapping[str, Any]) -> None:
        values = {kv.get('key'): kv.get('value') for kv in msg.get('values', [])}
        with self._lock:
            self._status = (status_code(str(msg.get('message', ''))), time.monotonic())
            self._status_values = values

    def _on_gateway_status(self, msg: Mapping[str, Any]) -> None:
        values = {kv.get('key'): kv.get('value') for kv in msg.get('values', [])}
        with self._lock:
            self._lease = values

    def _on_description(self, key: str, msg: Mapping[str, Any]) -> None:
        with self._lock:
            self._description[key] = str(msg.get('data', ''))

    # ------------------------------------------------------------------ what the app reads

    def link_state(self) -> LinkState:
        with self._lock:
            return LinkState(
                self._phase,
                self._detail,
                self._rtt,
                holder=self._lease.get('holder', ''),
                you_hold=self._lease.get('you_hold') == 'true',
            )

    def can_move(self) -> bool:
        """Connect, authenticated, holding the lease."""
        state = self.link_state()
        return state.phase == 'connected' and state.you_hold

    def description(self) -> tuple[str, str] | None:
        """(profile YAML, URDF) once both have arrived."""
        with self._lock:
            if 'profile' in self._description and 'urdf' in self._description:
                return self._description['profile'], self._description['urdf']
            return None

    def latest_joint_state(self) -> tuple[dict[str, float], float] | None:
        with self._lock:
            if self._joints_stamp is None:
                return None
            return dict(self._joints), self._joints_stamp

    def latest_status(self) -> tuple[str, float] | None:
        with self._lock:
            return self._status

    def latest_status_values(self) -> dict[str, str]:
        with self._lock:
            return dict(self._status_values)

    def command_rate(self) -> float:
        return self._commands.rate(time.monotonic())

    # ------------------------------------------------------------------ outgoing (Kivy thread)

    def _motion(self, topic: str, msg: dict) -> None:
        if not self.can_move():
            return  # dropped, never queued: no stale command after a reconnect
        if self._send({'op': 'publish', 'topic': topic, 'msg': msg}):
            self._commands.count(time.monotonic())

    def publish_target(self, pose: Any) -> None:
        x, y, z = (float(v) for v in pose.position)
        qx, qy, qz, qw = (float(v) for v in pose.quaternion())
        # No stamp: the gateway stamps it with the robot computer's clock (rosbridge's rule),
        # so a tablet with a wrong clock never makes teleop reject it as out of order.
        self._motion(
            'target_pose',
            {
                'header': {'frame_id': self.base_link},
                'pose': {
                    'position': {'x': x, 'y': y, 'z': z},
                    'orientation': {'x': qx, 'y': qy, 'z': qz, 'w': qw},
                },
            },
        )

    def publish_jog(self, linear: Sequence[float], angular: Sequence[float]) -> None:
        lx, ly, lz = (float(v) for v in linear)
        ax, ay, az = (float(v) for v in angular)
        self._motion(
            'jog',
            {
                'header': {'frame_id': self.base_link},
                'twist': {
                    'linear': {'x': lx, 'y': ly, 'z': lz},
                    'angular': {'x': ax, 'y': ay, 'z': az},
                },
            },
        )

    def publish_joint_target(self, positions: Mapping[str, float]) -> None:
        self._motion(
            'joint_target',
            {
                'header': {},
                'name': list(positions),
                'position': [float(v) for v in positions.values()],
            },
        )

    def publish_gripper(self, opening: float) -> None:
        self._motion('gripper', {'data': float(opening)})

    def call_estop(self, engaged: bool) -> bool:
        # Engaging: anyone, lease or not. Releasing: the gateway checks the lease.
        return self._call('teleop/estop', {'data': bool(engaged)})

    def call_enable(self, enabled: bool) -> bool:
        return self._call('teleop/enable', {'data': bool(enabled)})

    def call_home(self) -> bool:
        return self._call('teleop/home', {})

    def call_free_drive(self, on: bool, joints: Sequence[str] = ()) -> bool:
        """
        Turn free drive on (of ``joints``; empty: the whole arm) or off.

        As the touch UI's ROS backend does: on sets teleop's ``free_drive_joints`` first and
        asks for free drive once that was accepted; a refusal of either is shown under the
        service's name.
        """
        if not on:
            return self._call('teleop/free_drive', {'data': False})
        value = {'type': 9, 'string_array_value': list(joints)}  # ParameterType STRING_ARRAY

        def then(ok: bool, values: Any) -> None:
            results = values.get('results', []) if ok and isinstance(values, Mapping) else []
            if results and all(r.get('successful') for r in results):
                self._call('teleop/free_drive', {'data': True})
            else:
                reasons = [r.get('reason', '') for r in results if not r.get('successful')]
                self.messages.append(
                    'teleop/free_drive: ' + ('; '.join(filter(None, reasons)) or str(values))
                )

        return self._call(
            'teleop/set_parameters',
            {'parameters': [{'name': 'free_drive_joints', 'value': value}]},
            on_answer=then,
        )

    def set_speed(self, fraction: float) -> bool:
        value = {'type': 3, 'double_value': float(fraction)}  # rcl_interfaces ParameterType DOUBLE
        return self._call(
            'teleop/set_parameters', {'parameters': [{'name': 'speed_override', 'value': value}]}
        )
