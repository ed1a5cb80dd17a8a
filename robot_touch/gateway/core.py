"""
The gateway's protocol core: rosbridge v2 frames in, ROS actions and frames out.

Every client frame goes through, in order: the per-client rate cap (excess dropped and
counted), JSON decoding, authentication (before ``auth`` succeeds nothing but ``auth`` is
answered, and anything else closes the connection with a refusal), the allowlist
(:mod:`.policy`), the control lease (:mod:`.lease`) for anything that moves the arm, and the
conversion to a ROS message (:mod:`.convert`); the wire form of frames, in and out, is
:mod:`.frames`. A refusal is a rosbridge ``status`` message
(``level`` error, the request's ``id``, a sentence naming the rule) or, for a service call, a
``service_response`` with ``result: false``. Nothing a client sends can reach ROS unless it
passed every step.

The ROS side is a :class:`RosPort` (the rclpy node; a fake in unit tests) and the sockets are
two callbacks (``send``, ``close``), so all of this runs without ROS or a network. Time is
passed in; the caller runs :meth:`GatewayCore.tick` when it returns.

Supported ops: auth, set_level, advertise, unadvertise, publish, subscribe (throttle_rate,
queue_length; compression "none"), unsubscribe, call_service (answered by service_response),
and the outgoing status, publish and service_response. Others (fragment, png, cbor,
advertise_service, actions) are refused with a status message naming the op.

Longer than our usual module (about 480 lines): every op goes through the same ordered checks
and shares the session, lease and subscription bookkeeping, so the order of the checks is read
in one place. What has a seam of its own lives beside it: the frames' wire form
(:mod:`.frames`), the allowlist (:mod:`.policy`), the lease (:mod:`.lease`), per-client
state and rate limits (:mod:`.session`), message conversion (:mod:`.convert`).
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from robot_touch.gateway import convert, frames
from robot_touch.gateway.auth import AuthError, Verifier
from robot_touch.gateway.lease import ControlLease, LeaseEvent
from robot_touch.gateway.policy import (
    ANYONE,
    GATEWAY_PING,
    GATEWAY_RELEASE,
    GATEWAY_STATUS,
    GATEWAY_TAKE,
    Policy,
    QOS_LATCHED,
    Refusal,
    ServiceRule,
    TopicRule,
)
from robot_touch.gateway.session import LEVELS, Session, TokenBucket

#: Seconds between gateway/status repeats (the app sees the lease state even if it missed a
#: change).
STATUS_PERIOD = 1.0


class RosPort(Protocol):
    """What the core needs from the ROS side (the gateway node)."""

    def publish(self, rule: TopicRule, msg: Any) -> None: ...
    def want_topic(self, rule: TopicRule) -> None: ...
    def drop_topic(self, rule: TopicRule) -> None: ...
    def call(self, rule: ServiceRule, request: Any, done: Callable[[bool, Any], None]) -> None: ...
    def hold(self, reason: str) -> None: ...
    def stamp_now(self) -> Any: ...


class GatewayCore:
    """
    Every client of one gateway.

    :param policy: allowlist and caps.
    :param verifier: checks ``auth`` ops; its ``token`` is refreshed from ``token_source``.
    :param ros: the ROS side.
    :param send: ``send(client_id, text)`` queues a text frame to a client.
    :param close: ``close(client_id, code, reason)`` closes a client's connection.
    :param token_source: returns the current pairing token (re-read each tick; a new token closes
        the clients that authenticated with the old one).
    :param wall_clock: seconds since the epoch (auth times are wall-clock times).
    """

    def __init__(
        self,
        policy: Policy,
        verifier: Verifier,
        ros: RosPort,
        send: Callable[[int, str], None],
        close: Callable[[int, int, str], None],
        token_source: Callable[[], str | None] | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.policy, self.verifier, self.ros = policy, verifier, ros
        self._send, self._close = send, close
        self.token_source = token_source
        self.wall_clock = wall_clock or time.time
        self.lease = ControlLease(policy.caps.lease_timeout)
        self.sessions: dict[int, Session] = {}
        self._next_id = 1
        self._latched: dict[str, Any] = {}  # rule name -> last JSON text of a latched topic
        self._wanted: dict[str, int] = {}  # rule name -> number of client streams
        self._status_at = -1e18
        self.counters = {'frames': 0, 'dropped_rate': 0, 'refused': 0, 'published': 0, 'sent': 0}

    # ------------------------------------------------------------------ connections

    def opened(self, peer: str, now: float) -> int | None:
        """
        Return a new connection.

        Its client id, or None when the client cap is reached (the caller then sends
        :meth:`busy_text` and closes with 1013).
        """
        if len(self.sessions) >= self.policy.caps.max_clients:
            return None
        cid = self._next_id
        self._next_id += 1
        caps = self.policy.caps
        self.sessions[cid] = Session(cid, peer, now, TokenBucket(caps.max_rate, caps.burst, now))
        return cid

    def busy_text(self) -> str:
        return frames.status(
            'error',
            f'refused (client cap): {self.policy.caps.max_clients} clients are connected already',
        )

    def closed(self, cid: int, now: float) -> None:
        """Forget a connection that ended (either side)."""
        session = self.sessions.pop(cid, None)
        if session is None:
            return
        for name in list(session.streams):
            self._unsubscribe(session, name, None)
        self._lease_changed(self.lease.disconnected(cid), now)
        self._broadcast_status(now)

    def heard(self, cid: int, now: float) -> None:
        """Note that a pong (or any frame) came from ``cid``: it is not silent."""
        self.lease.heard(cid, now)

    # ------------------------------------------------------------------ frames in

    def receive(self, cid: int, frame: str | bytes, now: float) -> None:
        """Handle one frame from client ``cid``."""
        session = self.sessions.get(cid)
        if session is None or session.closing:
            return
        self.counters['frames'] += 1
        self.lease.heard(cid, now)
        if not session.bucket.take(now):
            self.counters['dropped_rate'] += 1
            return
        try:
            op, message, msg_id = frames.parse(frame)
        except Refusal as refusal:
            self._refuse(session, None, refusal.rule, str(refusal), prefix=False)
            return
        if not session.authenticated:
            self._before_auth(session, op, message, msg_id, now)
            return
        handler = self._handlers().get(op)
        try:
            if handler is None:
                raise frames.unknown_op(op)
            handler(session, message, msg_id, now)
        except Refusal as refusal:
            self._refuse(session, msg_id, refusal.rule, str(refusal), prefix=False)

    def _handlers(self) -> dict[str, Callable[[Session, dict, Any, float], None]]:
        return {
            'auth': self._op_auth_again,
            'set_level': self._op_set_level,
            'advertise': self._op_advertise,
            'unadvertise': self._op_unadvertise,
            'publish': self._op_publish,
            'subscribe': self._op_subscribe,
            'unsubscribe': self._op_unsubscribe,
            'call_service': self._op_call_service,
        }

    def _before_auth(
        self, session: Session, op: str, message: dict, msg_id: Any, now: float
    ) -> None:
        if op != 'auth':
            self._refuse(
                session, msg_id, 'auth', "authenticate first (op auth, the pairing token's MAC)"
            )
            self._close_session(session, 'not authenticated')
            return
        self.verifier.token = self.token_source() if self.token_source else self.verifier.token
        try:
            self.verifier.check(message, self.wall_clock())
        except AuthError as exc:
            self._refuse(session, msg_id, 'auth', str(exc))
            self._close_session(session, 'authentication failed')
            return
        session.authenticated = True
        session.token = self.verifier.token
        self._status(session, 'info', msg_id, f'authenticated as {session.label}')

    # ------------------------------------------------------------------ ops

    def _op_auth_again(self, session: Session, _m: dict, msg_id: Any, _now: float) -> None:
        self._status(session, 'warning', msg_id, 'already authenticated')

    def _op_set_level(self, session: Session, message: dict, msg_id: Any, _now: float) -> None:
        level = message.get('level')
        if level in LEVELS:
            session.level = level
        # rosbridge: a bad level string is dropped silently

    def _op_advertise(self, session: Session, message: dict, msg_id: Any, _now: float) -> None:
        rule = self.policy.topic(message.get('topic'), 'publish')
        self._check_type(rule.type, message.get('type'), required=True)
        session.advertised[rule.name] = rule.type

    def _op_unadvertise(self, session: Session, message: dict, msg_id: Any, _now: float) -> None:
        rule = self.policy.topic(message.get('topic'), 'publish')
        if session.advertised.pop(rule.name, None) is None:
            self._status(
                session, 'warning', msg_id, f'topic {message.get("topic")} was not advertised'
            )

    def _op_publish(self, session: Session, message: dict, msg_id: Any, _now: float) -> None:
        rule = self.policy.topic(message.get('topic'), 'publish')
        if rule.publish != ANYONE and not self.lease.holds(session.id):
            raise Refusal('lease', self._no_lease_text(session, f'publish on {rule.name}'))
        cls = convert.load_type(rule.type)
        try:
            msg = convert.to_ros(cls, message.get('msg', {}), stamp_now=self.ros.stamp_now)
        except convert.ConversionError as exc:
            raise Refusal('message', f'{rule.name} ({rule.type}): {exc}') from None
        self.ros.publish(rule, msg)
        self.counters['published'] += 1

    def _op_subscribe(self, session: Session, message: dict, msg_id: Any, now: float) -> None:
        name = message.get('topic')
        rule = self.policy.topic(name, 'subscribe')
        self._check_type(rule.type, message.get('type'), required=False)
        throttle = frames.natural(message.get('throttle_rate', 0), 'throttle_rate')
        queue = frames.natural(message.get('queue_length', 0), 'queue_length')
        compression = message.get('compression', 'none')
        if compression not in (None, 'none'):
            raise Refusal(
                'compression', f'compression {compression!r} is not supported (use none)'
            )
        sub_id = str(msg_id) if msg_id is not None else f'subscribe:{name}'
        if session.subscribe(name, rule.name, sub_id, throttle, queue):
            self._wanted[rule.name] = self._wanted.get(rule.name, 0) + 1
            if rule.name == GATEWAY_STATUS:
                self._send_status_to(session, now)
            elif self._wanted[rule.name] == 1:
                self.ros.want_topic(rule)
            if rule.name in self._latched:
                self._deliver(session, session.streams[name], self._latched[rule.name], now)

    def _op_unsubscribe(self, session: Session, message: dict, msg_id: Any, _now: float) -> None:
        name = message.get('topic')
        self.policy.topic(name, 'subscribe')
        if name not in session.streams:
            self._status(session, 'warning', msg_id, f'not subscribed to {name}')
            return
        self._unsubscribe(session, name, str(msg_id) if msg_id is not None else None)

    def _unsubscribe(self, session: Session, name: str, sub_id: str | None) -> None:
        stream = session.unsubscribe(name, sub_id)
        if stream is None:
            return
        left = self._wanted.get(stream.rule_name, 1) - 1
        self._wanted[stream.rule_name] = left
        if left <= 0 and stream.rule_name != GATEWAY_STATUS:
            self._wanted.pop(stream.rule_name, None)
            self.ros.drop_topic(self.policy.topics[stream.rule_name])

    def _op_call_service(self, session: Session, message: dict, msg_id: Any, now: float) -> None:
        name = message.get('service')
        try:
            rule = self.policy.service(name)
            args = self._service_args(rule, message.get('args', {}))
            if rule.check is not None:
                rule.check(args)
            if rule.required(args) != ANYONE and not self.lease.holds(session.id):
                raise Refusal('lease', self._no_lease_text(session, f'call {rule.name}'))
            if rule.internal:
                ok, text = self._internal(session, rule, now)
                self._respond(session, name, msg_id, ok, {'success': ok, 'message': text})
                return
            request_cls = convert.load_type(rule.type, 'srv').Request
            try:
                request = convert.to_ros(request_cls, args)
            except convert.ConversionError as exc:
                raise Refusal('message', f'{rule.name} request: {exc}') from None
        except Refusal as refusal:
            self.counters['refused'] += 1
            self._respond(session, name, msg_id, False, str(refusal))
            return

        def done(ok: bool, result: Any) -> None:
            if session.id in self.sessions:
                self._respond(
                    session, name, msg_id, ok, convert.to_json(result) if ok else str(result)
                )

        self.ros.call(rule, request, done)

    def _service_args(self, rule: ServiceRule, args: Any) -> dict:
        if isinstance(args, list):  # positional, in field order (rosbridge allows both)
            fields = list(convert.load_type(rule.type, 'srv').Request.get_fields_and_field_types())
            if len(args) > len(fields):
                raise Refusal('message', f'{rule.name} takes at most {len(fields)} arguments')
            return dict(zip(fields, args))
        if not isinstance(args, dict):
            raise Refusal('message', f'{rule.name}: args must be an object or a list')
        return args

    def _internal(self, session: Session, rule: ServiceRule, now: float) -> tuple[bool, str]:
        if rule.name == GATEWAY_PING:
            return True, 'pong'
        if rule.name == GATEWAY_TAKE:
            granted, event = self.lease.take(session.id, now)
            if not granted:
                holder = self.sessions.get(self.lease.holder)
                who = holder.label if holder else f'client {self.lease.holder}'
                return False, (
                    f'{who} holds control; it passes when they release it or are silent for '
                    f'{self.lease.timeout:g} s'
                )
            self._lease_changed(event, now)
            return True, f'you hold control ({session.label})'
        if rule.name == GATEWAY_RELEASE:
            event = self.lease.release(session.id)
            self._lease_changed(event, now)
            return True, 'control released' if event else 'you did not hold control'
        return False, f'{rule.name}: not implemented'  # pragma: no cover

    # ------------------------------------------------------------------ ROS → clients

    def ros_message(self, rule_name: str, msg: Any, now: float) -> None:
        """Deliver a message that arrived on an allowlisted topic to its subscribers."""
        text: str | None = None
        rule = self.policy.topics.get(rule_name)
        if rule is not None and rule.qos == QOS_LATCHED:
            text = self._latched[rule_name] = frames.encode(convert.to_json(msg))
        for session in list(self.sessions.values()):
            for stream in list(session.streams.values()):
                if stream.rule_name != rule_name:
                    continue
                if text is None:
                    text = frames.encode(convert.to_json(msg))  # converted once, only when wanted
                self._deliver(session, stream, text, now)

    def _deliver(self, session: Session, stream: Any, msg_text: str, now: float) -> None:
        for item in stream.offer(msg_text, now):
            self._publish_frame(session, stream.name, item)

    def _publish_frame(self, session: Session, name: str, msg_text: str) -> None:
        self._emit(session, frames.publish(name, msg_text))

    # ------------------------------------------------------------------ time

    def tick(self, now: float) -> float:
        """
        Timeouts, the lease, queued subscription messages, token rotation, reports.

        :returns: Seconds until the next tick is needed (at most 0.05).
        """
        wait = 0.05
        self._lease_changed(self.lease.expire(now), now)
        token = self.token_source() if self.token_source else None
        for session in list(self.sessions.values()):
            if session.closing:
                continue
            if not session.authenticated and now - session.opened > self.policy.caps.auth_timeout:
                self._refuse(
                    session, None, 'auth', f'no auth within {self.policy.caps.auth_timeout:g} s'
                )
                self._close_session(session, 'authentication timeout')
                continue
            if self.token_source and session.authenticated and token != session.token:
                self._refuse(session, None, 'auth', 'the pairing token was rotated: pair again')
                self._close_session(session, 'token rotated')
                continue
            dropped = session.bucket.dropped
            if dropped > session.dropped_reported and session.reports.allow(now):
                session.dropped_reported = dropped
                self._status(
                    session,
                    'warning',
                    None,
                    (
                        f'rate cap {self.policy.caps.max_rate:g} messages/s: '
                        f'{dropped} messages dropped so far'
                    ),
                )
            for stream in list(session.streams.values()):
                items, due = stream.due(now)
                for item in items:
                    self._publish_frame(session, stream.name, item)
                if due is not None:
                    wait = min(wait, max(0.0, due - now))
        if now - self._status_at >= STATUS_PERIOD:
            self._broadcast_status(now)
        return wait

    # ------------------------------------------------------------------ lease

    def _lease_changed(self, event: LeaseEvent | None, now: float) -> None:
        if event is None:
            return
        if event.hold_needed:
            self.ros.hold(f'client {event.previous} {event.reason}')
        self._broadcast_status(now)

    def _no_lease_text(self, session: Session, what: str) -> str:
        if self.lease.holder is None:
            return f'{session.label} may not {what}: take control first (gateway/take_control)'
        holder = self.sessions.get(self.lease.holder)
        who = holder.label if holder else f'client {self.lease.holder}'
        return f'{session.label} may not {what}: {who} holds control'

    def lease_status(self, viewer: Session | None) -> dict[str, Any]:
        """Return the gateway/status message (diagnostic_msgs/DiagnosticStatus) for ``viewer``."""
        holder = self.sessions.get(self.lease.holder) if self.lease.holder is not None else None
        values = {
            'holder': holder.label if holder else '',
            'holder_id': str(holder.id) if holder else '',
            'clients': str(sum(1 for s in self.sessions.values() if s.authenticated)),
            'lease_timeout': f'{self.lease.timeout:g}',
        }
        if viewer is not None:
            values['you'] = str(viewer.id)
            values['you_hold'] = 'true' if holder is viewer else 'false'
        return {
            'level': 0,
            'name': 'gateway',
            'message': 'held' if holder else 'free',
            'hardware_id': self.policy.namespace,
            'values': [{'key': k, 'value': v} for k, v in values.items()],
        }

    def _broadcast_status(self, now: float) -> None:
        self._status_at = now
        for session in self.sessions.values():
            self._send_status_to(session, now)

    def _send_status_to(self, session: Session, now: float) -> None:
        for stream in session.streams.values():
            if stream.rule_name == GATEWAY_STATUS:
                stream.last_sent = now
                text = frames.encode(self.lease_status(session))
                self._publish_frame(session, stream.name, text)

    # ------------------------------------------------------------------ out

    def _emit(self, session: Session, text: str) -> None:
        self.counters['sent'] += 1
        self._send(session.id, text)

    def _status(self, session: Session, level: str, msg_id: Any, text: str) -> None:
        if session.wants(level):
            self._emit(session, frames.status(level, text, msg_id))

    def _refuse(
        self, session: Session, msg_id: Any, rule: str, text: str, prefix: bool = True
    ) -> None:
        self.counters['refused'] += 1
        self._status(session, 'error', msg_id, f'refused ({rule}): {text}' if prefix else text)

    def _respond(self, session: Session, service: Any, msg_id: Any, ok: bool, values: Any) -> None:
        self._emit(session, frames.service_response(service, msg_id, ok, values))

    def _close_session(self, session: Session, reason: str) -> None:
        session.closing = True
        self._close(session.id, frames.CLOSE_POLICY, reason)

    def _check_type(self, allowed: str, given: Any, required: bool) -> None:
        if given is None and not required:
            return
        try:
            ok = isinstance(given, str) and convert.canonical_type(given) == allowed
        except ValueError:
            ok = False
        if not ok:
            raise Refusal('type', f"this topic's type is {allowed}, not {given!r}")
