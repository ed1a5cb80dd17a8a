"""
What a remote client may do: the allowlist of topics and services, and the caps.

Only what the touch UI needs is reachable (issue 13): publish ``target_pose``, ``jog``,
``joint_jog``, ``joint_target``, ``gripper``; subscribe ``joint_states``, ``teleop/status``,
``diagnostics`` and the arm's description (``robot_description``, ``arm_profile``); call
``teleop/estop``, ``teleop/enable``, ``teleop/home``, ``teleop/free_drive`` and the UI's
settings (``teleop/set_parameters``, parameters ``speed_override`` and ``free_drive_joints``
only). The gateway's own services
(``gateway/take_control``, ``gateway/release_control``, ``gateway/ping``) and status topic
(``gateway/status``) are answered by the gateway itself.

Names are relative to the gateway's namespace (the arm's): a client may send ``target_pose``
or the absolute ``/arm1/target_pose``; both resolve to the same rule. Every refusal names the
rule that refused, in words (:class:`Refusal`).

Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from typing import Any, Callable, Mapping

#: Who may use a rule: any authenticated client, or only the control lease holder.
ANYONE = 'anyone'
HOLDER = 'holder'

#: QoS kinds the node maps to rclpy profiles.
QOS_RELIABLE = 'reliable'
QOS_SENSOR = 'sensor'  # best effort, matches both kinds of publishers
QOS_LATCHED = 'latched'  # reliable + transient local, depth 1 (like robot_description)

_PAST = {'publish': 'published', 'subscribe': 'subscribed'}
_NAME = re.compile(r'^/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$')


class Refusal(Exception):
    """
    A request the policy refuses.

    ``rule`` is the short name of the rule, ``str()`` the sentence the client sees in its status
    message.
    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f'refused ({rule}): {message}')


@dataclass(frozen=True)
class TopicRule:
    """
    One allowlisted topic.

    :ivar name: relative name (``target_pose``).
    :ivar type: ``pkg/msg/Name``.
    :ivar publish: who may publish on it (``None``: nobody).
    :ivar subscribe: who may subscribe to it (``None``: nobody).
    :ivar qos: the QoS the gateway uses on the ROS side.
    """

    name: str
    type: str  # noqa: A003 (rosbridge's name for the message type)
    publish: str | None = None
    subscribe: str | None = None
    qos: str = QOS_RELIABLE


@dataclass(frozen=True)
class ServiceRule:
    """
    One allowlisted service.

    :ivar name: relative name.
    :ivar type: ``pkg/srv/Name``.
    :ivar who: ANYONE or HOLDER; ``who_for`` may decide per request instead.
    :ivar who_for: request (JSON object) → ANYONE or HOLDER (e-stop: engaging is for anyone,
        releasing for the holder).
    :ivar check: request (JSON object) → None, or raises :class:`Refusal` (e.g. only
        ``speed_override`` may be set).
    :ivar internal: answered by the gateway itself, not forwarded to ROS.
    """

    name: str
    type: str  # noqa: A003 (rosbridge's name for the service type)
    who: str = HOLDER
    who_for: Callable[[Mapping[str, Any]], str] | None = None
    check: Callable[[Mapping[str, Any]], None] | None = None
    internal: bool = False

    def required(self, request: Mapping[str, Any]) -> str:
        return self.who_for(request) if self.who_for is not None else self.who


def _estop_who(request: Mapping[str, Any]) -> str:
    # Anyone can stop the arm; releasing the stop is a recovery, for the operator only.
    return ANYONE if request.get('data', False) is True else HOLDER


#: teleop parameters the touch UI sets, the only ones a remote client may set
REMOTE_PARAMETERS = ('speed_override', 'free_drive_joints')


def _ui_settings_only(request: Mapping[str, Any]) -> None:
    params = request.get('parameters', [])
    if not isinstance(params, list) or not params:
        raise Refusal('ui-settings', 'set_parameters needs a parameters list')
    for p in params:
        name = p.get('name') if isinstance(p, dict) else None
        if name not in REMOTE_PARAMETERS:
            raise Refusal(
                'ui-settings',
                f'only {" and ".join(REMOTE_PARAMETERS)} may be set remotely, not {name!r}',
            )


@dataclass(frozen=True)
class Caps:
    """
    Limits per gateway and per client (parameters of the gateway node).

    :ivar max_clients: WebSocket clients at once; more are refused.
    :ivar max_frame_bytes: largest incoming frame; a larger one closes the connection (1009).
    :ivar max_rate: incoming messages per second per client (token bucket); excess dropped and
        counted.
    :ivar burst: token bucket depth (messages).
    :ivar auth_timeout: seconds a new client has to authenticate before it is closed.
    :ivar lease_timeout: a holder silent this long (no frame, no pong) loses the lease.
    :ivar out_queue: outgoing messages buffered per client; older ones are dropped first.
    """

    max_clients: int = 8
    max_frame_bytes: int = 65536
    max_rate: float = 200.0
    burst: float = 100.0
    auth_timeout: float = 5.0
    lease_timeout: float = 0.5
    out_queue: int = 256


GATEWAY_TAKE = 'gateway/take_control'
GATEWAY_RELEASE = 'gateway/release_control'
GATEWAY_PING = 'gateway/ping'
GATEWAY_STATUS = 'gateway/status'


def default_rules() -> tuple[dict[str, TopicRule], dict[str, ServiceRule]]:
    """Return the touch UI's topics and services (see the module docstring)."""
    topics = [
        TopicRule('target_pose', 'geometry_msgs/msg/PoseStamped', publish=HOLDER),
        TopicRule('jog', 'geometry_msgs/msg/TwistStamped', publish=HOLDER),
        TopicRule('joint_jog', 'sensor_msgs/msg/JointState', publish=HOLDER),
        TopicRule('joint_target', 'sensor_msgs/msg/JointState', publish=HOLDER),
        TopicRule('gripper', 'std_msgs/msg/Float64', publish=HOLDER),
        TopicRule('joint_states', 'sensor_msgs/msg/JointState', subscribe=ANYONE, qos=QOS_SENSOR),
        TopicRule('teleop/status', 'diagnostic_msgs/msg/DiagnosticStatus', subscribe=ANYONE),
        TopicRule('diagnostics', 'diagnostic_msgs/msg/DiagnosticArray', subscribe=ANYONE),
        TopicRule('robot_description', 'std_msgs/msg/String', subscribe=ANYONE, qos=QOS_LATCHED),
        TopicRule('arm_profile', 'std_msgs/msg/String', subscribe=ANYONE, qos=QOS_LATCHED),
        TopicRule(GATEWAY_STATUS, 'diagnostic_msgs/msg/DiagnosticStatus', subscribe=ANYONE),
    ]
    services = [
        ServiceRule('teleop/estop', 'std_srvs/srv/SetBool', who_for=_estop_who),
        ServiceRule('teleop/enable', 'std_srvs/srv/SetBool'),
        ServiceRule('teleop/home', 'std_srvs/srv/Trigger'),
        ServiceRule('teleop/free_drive', 'std_srvs/srv/SetBool'),
        ServiceRule(
            'teleop/set_parameters', 'rcl_interfaces/srv/SetParameters', check=_ui_settings_only
        ),
        ServiceRule(GATEWAY_TAKE, 'std_srvs/srv/Trigger', who=ANYONE, internal=True),
        ServiceRule(GATEWAY_RELEASE, 'std_srvs/srv/Trigger', who=ANYONE, internal=True),
        ServiceRule(GATEWAY_PING, 'std_srvs/srv/Trigger', who=ANYONE, internal=True),
    ]
    return {t.name: t for t in topics}, {s.name: s for s in services}


@dataclass
class Policy:
    """The allowlist for one gateway in ``namespace`` ("" or ``arm1``)."""

    namespace: str = ''
    caps: Caps = field(default_factory=Caps)
    topics: dict[str, TopicRule] = field(default_factory=lambda: default_rules()[0])
    services: dict[str, ServiceRule] = field(default_factory=lambda: default_rules()[1])

    def relative(self, name: Any) -> str:
        """
        Return a client's topic/service name → the name relative to the gateway's namespace.

        :raises Refusal: not a valid name, or an absolute name outside the namespace.
        """
        if not isinstance(name, str) or not _NAME.match(name):
            raise Refusal('name', f'{name!r} is not a valid ROS name')
        if not name.startswith('/'):
            return name
        prefix = '/' + self.namespace.strip('/') + '/' if self.namespace.strip('/') else '/'
        if not name.startswith(prefix):
            raise Refusal(
                'namespace', f"{name} is outside this arm's namespace {prefix.rstrip('/') or '/'}"
            )
        return name[len(prefix):]

    def topic(self, name: Any, action: str) -> TopicRule:
        """Return the rule allowing ``action`` (``publish`` or ``subscribe``) on topic ``name``."""
        rel = self.relative(name)
        rule = self.topics.get(rel)
        if rule is None:
            raise Refusal('allowlist', f"topic {name} is not on the gateway's allowlist")
        if getattr(rule, action) is None:
            raise Refusal(
                'allowlist',
                f'topic {name} may not be {_PAST[action]} remotely ({self._allowed(rule)})',
            )
        return rule

    def service(self, name: Any) -> ServiceRule:
        rel = self.relative(name)
        rule = self.services.get(rel)
        if rule is None:
            raise Refusal('allowlist', f"service {name} is not on the gateway's allowlist")
        return rule

    @staticmethod
    def _allowed(rule: TopicRule) -> str:
        if rule.publish:
            return 'publish only'
        return 'subscribe only'

    def globs(self) -> tuple[list[str], list[str]]:
        """
        Return (topics, services) as absolute names, for rosbridge_server's globs.

        They are rosbridge_server's topics_glob / services_glob (the documented alternative on
        a ROS install).
        """
        prefix = '/' + self.namespace.strip('/') if self.namespace.strip('/') else ''
        topics = [f'{prefix}/{n}' for n in self.topics if not n.startswith('gateway/')]
        services = [f'{prefix}/{n}' for n, r in self.services.items() if not r.internal]
        return topics, services
