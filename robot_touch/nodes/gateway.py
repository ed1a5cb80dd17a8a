"""
`gateway` node.

The one remote door. rosbridge protocol v2 over a secure WebSocket, for the tablet app and standard
rosbridge clients (roslibjs, roslibpy, Foxglove in rosbridge mode).

Listens on ``bind``:``port`` (``::``, dual-stack, and 9090 by default) with TLS: the key and a
self-signed certificate are made on first use in ``<user data>/remote/tls`` (0600); clients
pin the certificate's SHA-256 fingerprint (``robot-touch pair``). Plain ws only with
``insecure: true``, which warns on every start. Clients authenticate with rosbridge's ``auth``
op (rosauth MAC of the pairing token), reach only the allowlisted topics and services, and
only the holder of the control lease moves the arm (:mod:`robot_touch.gateway`).

On the ROS side it is a node like every other (DDS on loopback with the rest of the graph):
it publishes the clients' messages on the allowlisted topics, subscribes on their behalf,
forwards their service calls, and when the lease holder goes (release, disconnect, 0.5 s of
silence) calls ``teleop/enable`` false: teleop brakes under control and holds (not an
e-stop). It also publishes the arm's description for clients that have no files: the
expanded URDF on ``robot_description`` and the profile YAML on ``arm_profile``
(std_msgs/String, transient local, like robot_state_publisher's).

Prints ``GATEWAY <url> fingerprint <fp>`` when it listens (our runner waits for it).
Parameters are listed with units and defaults in ``config/gateway.yaml``.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
import time
from typing import Any, Callable, Sequence

import rclpy
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from robot_touch.core.profile import load_profile
from robot_touch.errors import RobotTouchError
from robot_touch.gateway import convert, tls
from robot_touch.gateway.auth import Verifier
from robot_touch.gateway.core import GatewayCore
from robot_touch.gateway.policy import (
    Caps,
    Policy,
    QOS_LATCHED,
    QOS_SENSOR,
    ServiceRule,
    TopicRule,
)
from robot_touch.gateway.server import GatewayServer
from robot_touch.nodes._common import declare_parameters, float_range, int_range
from std_msgs.msg import String
from std_srvs.srv import SetBool

#: Seconds a forwarded service call may take before the client is told it failed.
SERVICE_TIMEOUT = 5.0
#: how long a call waits for DDS to match its client to the service before "not available"
SERVICE_DISCOVERY_WAIT = 2.0
DISCOVERY_POLL = 0.05

PARAMETERS = {
    'arm': ('so101', 'arm profile (name or YAML path) whose description is published', {}),
    'port': (9090, 'TCP port of the WebSocket server', {'integer_range': int_range(0, 65535)}),
    'bind': (
        '::',
        'address to listen on: :: (all, IPv6 and IPv4), an address, or 127.0.0.1 / ::1',
        {},
    ),
    'insecure': (
        False,
        'plain ws:// without TLS (warns on every start); only on a trusted network',
        {},
    ),
    'max_clients': (8, 'WebSocket clients at once', {'integer_range': int_range(1, 256)}),
    'max_frame_bytes': (
        65536,
        'largest incoming frame (bytes); larger closes the connection',
        {'integer_range': int_range(1024, 16777216)},
    ),
    'max_rate': (
        200.0,
        'incoming messages per second per client; excess dropped and counted',
        {'floating_point_range': float_range(1.0, 10000.0)},
    ),
    'lease_timeout': (
        0.5,
        'lease holder silent this long loses control and teleop holds (s)',
        {'floating_point_range': float_range(0.1, 10.0)},
    ),
    'auth_timeout': (
        5.0,
        'a new client must authenticate within this time (s)',
        {'floating_point_range': float_range(0.5, 60.0)},
    ),
    'max_clock_skew': (
        30.0,
        "allowed difference between a client's auth time and ours (s)",
        {'floating_point_range': float_range(1.0, 86400.0)},
    ),
    'publish_description': (
        True,
        'publish robot_description and arm_profile (false where robot_state_publisher does)',
        {},
    ),
}
_QOS = {
    QOS_SENSOR: qos_profile_sensor_data,
    QOS_LATCHED: QoSProfile(
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    ),
}


class GatewayNode(Node):
    """The ROS side of the gateway (a :class:`~robot_touch.gateway.core.RosPort`)."""

    def __init__(self) -> None:
        super().__init__('gateway')
        self.p = declare_parameters(self, PARAMETERS, 'config/gateway.yaml')
        self.profile = load_profile(self.p['arm'])
        self.loop: asyncio.AbstractEventLoop | None = None
        self.deliver: Callable[[str, Any], None] | None = None
        self._rt_publishers: dict[str, Any] = {}
        self._rt_subscriptions: dict[str, Any] = {}
        self._rt_clients: dict[str, Any] = {}
        self._hold_client = self.create_client(SetBool, 'teleop/enable')
        if self.p['publish_description']:
            latched = _QOS[QOS_LATCHED]
            self._description = [
                self.create_publisher(String, 'robot_description', latched),
                self.create_publisher(String, 'arm_profile', latched),
            ]
            self._description[0].publish(String(data=self.profile.urdf_xml()))
            self._description[1].publish(
                String(data=self.profile.path.read_text(encoding='utf-8'))
            )

    # ------------------------------------------------------------------ RosPort (loop thread)

    def prepare_publishers(self, policy: Policy) -> None:
        """
        Create the ROS publisher of every topic a client may publish on, before any client.

        DDS takes a moment to match a new publisher with teleop's subscription: made at a
        client's first message, the publisher could send that message before the match, and
        a single target_pose would be lost.
        """
        for rule in policy.topics.values():
            if rule.publish is not None and rule.name not in self._rt_publishers:
                qos = _QOS.get(
                    rule.qos, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
                )
                cls = convert.load_type(rule.type)
                self._rt_publishers[rule.name] = self.create_publisher(cls, rule.name, qos)

    def publish(self, rule: TopicRule, msg: Any) -> None:
        # The core publishes only on the policy's publish rules, all prepared at start.
        self._rt_publishers[rule.name].publish(msg)

    def want_topic(self, rule: TopicRule) -> None:
        if rule.name in self._rt_subscriptions:
            return
        cls = convert.load_type(rule.type)
        qos = _QOS.get(rule.qos, 10)
        self._rt_subscriptions[rule.name] = self.create_subscription(
            cls, rule.name, lambda msg, name=rule.name: self._on_message(name, msg), qos
        )

    def drop_topic(self, rule: TopicRule) -> None:
        sub = self._rt_subscriptions.pop(rule.name, None)
        if sub is not None:
            self.destroy_subscription(sub)

    def call(self, rule: ServiceRule, request: Any, done: Callable[[bool, Any], None]) -> None:
        self._call(rule, request, done, waited=0.0)

    def _call(
        self, rule: ServiceRule, request: Any, done: Callable[[bool, Any], None], waited: float
    ) -> None:
        client = self._rt_clients.get(rule.name)
        if client is None:
            client = self._rt_clients[rule.name] = self.create_client(
                convert.load_type(rule.type, 'srv'), rule.name
            )
        loop = self.loop
        assert loop is not None
        if not client.service_is_ready():
            # A client is matched to its server by DDS discovery, which takes a moment after
            # the client is made (its first call) or the server starts: wait for it, briefly.
            if waited >= SERVICE_DISCOVERY_WAIT:
                done(False, f'service {rule.name} is not available')
                return
            loop.call_later(
                DISCOVERY_POLL, self._call, rule, request, done, waited + DISCOVERY_POLL
            )
            return
        answered = [False]

        def settle(ok: bool, value: Any) -> None:  # on the loop: the first of answer / timeout
            if not answered[0]:
                answered[0] = True
                done(ok, value)

        def finish(fut: Any) -> None:  # executor thread
            if fut.cancelled():
                return
            exc = fut.exception()
            result = (False, f'service {rule.name} failed: {exc}') if exc else (True, fut.result())
            loop.call_soon_threadsafe(settle, *result)

        future = client.call_async(request)
        future.add_done_callback(finish)
        loop.call_later(
            SERVICE_TIMEOUT,
            settle,
            False,
            f'service {rule.name} did not answer within {SERVICE_TIMEOUT:g} s',
        )

    def hold(self, reason: str) -> None:
        """Make teleop brake and hold because the lease holder went (teleop/enable false)."""
        self.get_logger().warning(f'control lease passed ({reason}): teleop holds the arm')
        if self._hold_client.service_is_ready():
            self._hold_client.call_async(SetBool.Request(data=False))
        else:
            self.get_logger().error('teleop/enable is not available: cannot make teleop hold')

    def stamp_now(self) -> Any:
        return self.get_clock().now().to_msg()

    # ------------------------------------------------------------------ incoming (executor thread)

    def _on_message(self, name: str, msg: Any) -> None:
        loop, deliver = self.loop, self.deliver
        if loop is not None and deliver is not None and not loop.is_closed():
            loop.call_soon_threadsafe(deliver, name, msg)

    def caps(self) -> Caps:
        return Caps(
            max_clients=self.p['max_clients'],
            max_frame_bytes=self.p['max_frame_bytes'],
            max_rate=self.p['max_rate'],
            burst=max(10.0, self.p['max_rate'] / 2),
            auth_timeout=self.p['auth_timeout'],
            lease_timeout=self.p['lease_timeout'],
        )


async def serve(node: GatewayNode, stop: asyncio.Event) -> int:
    """Run the WebSocket server until ``stop`` is set."""
    namespace = node.get_namespace().strip('/')
    token_file = tls.token_file(namespace)
    token_file.ensure()
    insecure = node.p['insecure']
    identity = None if insecure else tls.ensure_identity()
    policy = Policy(namespace=namespace, caps=node.caps())
    node.prepare_publishers(policy)

    def make_core(
        send: Callable[[int, str], None], close: Callable[[int, int, str], None]
    ) -> GatewayCore:
        verifier = Verifier(token_file.read(), max_clock_skew=node.p['max_clock_skew'])
        return GatewayCore(policy, verifier, node, send, close, token_source=token_file.read)

    server = GatewayServer(
        make_core,
        bind=node.p['bind'],
        port=node.p['port'],
        ssl_context=identity.server_context() if identity else None,
        max_frame_bytes=policy.caps.max_frame_bytes,
        out_queue=policy.caps.out_queue,
    )
    node.loop = asyncio.get_running_loop()

    def deliver(name: str, msg: Any) -> None:
        server.core.ros_message(name, msg, time.monotonic())
        server.wake()

    node.deliver = deliver
    try:
        await server.start()
    except OSError as exc:
        raise RobotTouchError(
            f'cannot listen on {node.p["bind"]} port {node.p["port"]}: {exc.strerror or exc}'
        ) from None
    scheme = 'ws' if insecure else 'wss'
    host = node.p['bind'] if ':' not in node.p['bind'] else f'[{node.p["bind"]}]'
    url = f'{scheme}://{host}:{server.port}'
    tls.write_state(
        namespace,
        {
            'port': server.port,
            'bind': node.p['bind'],
            'tls': not insecure,
            'fingerprint': identity.fingerprint if identity else '',
        },
    )
    if insecure:
        node.get_logger().warning(
            "REMOTE ACCESS WITHOUT TLS (insecure: true): the token's MAC and every command "
            'cross the '
            'network in clear text; anyone on it can watch. Use it only on a network you trust.'
        )
    fingerprint = identity.fingerprint if identity else 'none (insecure)'
    print(f'GATEWAY {url} fingerprint {fingerprint}', flush=True)
    node.get_logger().info(
        f'listening on {url} for {namespace or "/"}; pair a tablet with `robot-touch pair`'
    )
    await stop.wait()
    await server.stop()
    return 0


def main(args: Sequence[str] | None = None) -> int:
    """Console script ``gateway`` / ``ros2 run robot_touch gateway``."""
    # Two threads share the GIL (asyncio with the sockets, rclpy's executor): Python's default
    # 5 ms switch interval would let one hold a client's frame back by that much.
    sys.setswitchinterval(0.0005)
    rclpy.init(
        args=args if args is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO
    )
    node = None
    executor = SingleThreadedExecutor()
    thread = None
    try:
        node = GatewayNode()
        executor.add_node(node)
        thread = threading.Thread(target=executor.spin, name='gateway_ros', daemon=True)
        thread.start()
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return loop.run_until_complete(serve(node, stop))
        finally:
            # As asyncio.run does: the ticker and the clients' tasks end before the loop does
            # (otherwise each is reported "destroyed but pending" at exit).
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()
    except (RobotTouchError, InvalidParameterValueException, InvalidParameterTypeException) as exc:
        print(f'gateway: error: {exc}', file=sys.stderr)
        return 2
    finally:
        executor.shutdown(timeout_sec=2.0)
        if thread is not None:
            thread.join(timeout=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
