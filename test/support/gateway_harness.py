"""A gateway core wired to a fake ROS side, for the gateway's unit tests (no sockets, no DDS)."""

from __future__ import annotations

import json
from typing import Any

from robot_touch.gateway.auth import auth_request, Verifier
from robot_touch.gateway.core import GatewayCore
from robot_touch.gateway.policy import Caps, Policy

TOKEN = 'Abcdefgh12345678'
WALL = 1_700_000_000.0


class FakeRos:
    def __init__(self) -> None:
        self.published: list[tuple[str, Any]] = []
        self.wanted: list[str] = []
        self.dropped: list[str] = []
        self.calls: list[tuple[str, Any]] = []
        self.holds: list[str] = []
        self.answer = True

    def publish(self, rule, msg) -> None:
        self.published.append((rule.name, msg))

    def want_topic(self, rule) -> None:
        self.wanted.append(rule.name)

    def drop_topic(self, rule) -> None:
        self.dropped.append(rule.name)

    def call(self, rule, request, done) -> None:
        self.calls.append((rule.name, request))
        response = (
            __import__('robot_touch.gateway.convert', fromlist=['x'])
            .load_type(rule.type, 'srv')
            .Response()
        )
        if hasattr(response, 'success'):
            response.success = True
        done(self.answer, response if self.answer else 'service teleop/x is not available')

    def hold(self, reason: str) -> None:
        self.holds.append(reason)

    def stamp_now(self):
        from builtin_interfaces.msg import Time

        return Time(sec=42, nanosec=0)


class Harness:
    def __init__(self, caps: Caps | None = None, namespace: str = '') -> None:
        self.ros = FakeRos()
        self.out: dict[int, list[dict]] = {}
        self.closed: dict[int, tuple[int, str]] = {}
        self.token = TOKEN
        self.core = GatewayCore(
            Policy(namespace=namespace, caps=caps or Caps()),
            Verifier(TOKEN, max_clock_skew=30),
            self.ros,
            send=lambda cid, text: self.out.setdefault(cid, []).append(json.loads(text)),
            close=lambda cid, code, reason: self.closed.__setitem__(cid, (code, reason)),
            token_source=lambda: self.token,
            wall_clock=lambda: WALL,
        )
        self.now = 100.0

    def connect(self, authenticate: bool = True) -> int:
        cid = self.core.opened('::1', self.now)
        assert cid is not None
        if authenticate:
            self.send(cid, auth_request(TOKEN, '::1', '::1', WALL))
            assert cid not in self.closed, self.out
        return cid

    def send(self, cid: int, message: Any) -> None:
        self.core.receive(
            cid, message if isinstance(message, (str, bytes)) else json.dumps(message), self.now
        )

    def frames(self, cid: int, op: str | None = None) -> list[dict]:
        return [m for m in self.out.get(cid, []) if op is None or m['op'] == op]

    def take(self, cid: int) -> dict:
        self.send(cid, {'op': 'call_service', 'service': 'gateway/take_control', 'id': 'take'})
        return self.frames(cid, 'service_response')[-1]
