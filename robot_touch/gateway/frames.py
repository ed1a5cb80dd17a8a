"""
The rosbridge v2 wire form: what a client frame must be, and the frames the gateway sends.

Text frames only, one JSON object each with a string ``op`` (rosbridge v2 protocol). Decoding
is strict: NaN and Infinity are not JSON numbers, and a malformed frame becomes a
:class:`~robot_touch.gateway.policy.Refusal` naming the rule, as every other refusal.
Outgoing frames are compact JSON (no spaces), NaN refused.
"""

from __future__ import annotations

import json
from typing import Any

from robot_touch.gateway.policy import Refusal

#: WebSocket close codes (RFC 6455): policy violation, try again later.
CLOSE_POLICY = 1008
CLOSE_BUSY = 1013
#: rosbridge v2 ops this gateway refuses by name (the others it does not know at all).
UNSUPPORTED = (
    'fragment',
    'png',
    'cbor',
    'advertise_service',
    'unadvertise_service',
    'service_response',
    'advertise_action',
    'unadvertise_action',
    'send_action_goal',
    'cancel_action_goal',
    'action_feedback',
    'action_result',
)


def parse(frame: str | bytes) -> tuple[str, dict[str, Any], Any]:
    """
    Decode one client frame.

    :returns: (op, the message, its ``id`` or None when absent or not a string or integer).
    :raises Refusal: a binary frame, invalid JSON, or no object with a string ``op``.
    """
    if isinstance(frame, bytes):
        raise Refusal('frame', 'binary frames are not supported: send JSON text')
    try:
        message = json.loads(frame, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise Refusal('json', f'not valid JSON ({str(exc)[:80]})') from None
    if not isinstance(message, dict) or not isinstance(message.get('op'), str):
        raise Refusal('op', 'a rosbridge message is a JSON object with a string "op"')
    msg_id = message.get('id')
    if msg_id is not None and not isinstance(msg_id, (str, int)) or isinstance(msg_id, bool):
        msg_id = None
    return message['op'], message, msg_id


def unknown_op(op: str) -> Refusal:
    """Return the refusal of an op this gateway does not handle (saying if rosbridge has it)."""
    what = 'not supported by this gateway' if op in UNSUPPORTED else 'unknown'
    return Refusal('op', f'op {op[:40]!r} is {what}')


def natural(value: Any, name: str) -> int:
    """Return ``value`` if it is a whole number 0..3600000 (ms, a queue length), else refuse."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3_600_000:
        raise Refusal('message', f'{name} must be a whole number 0..3600000, got {value!r}')
    return value


def encode(value: Any) -> str:
    """Return ``value`` as compact JSON (NaN and infinities refused with ValueError)."""
    return json.dumps(value, separators=(',', ':'), allow_nan=False)


def status(level: str, text: str, msg_id: Any = None) -> str:
    """Return a ``status`` frame (rosbridge's answer to a refused or noteworthy request)."""
    out: dict[str, Any] = {'op': 'status', 'level': level, 'msg': text}
    if msg_id is not None:
        out['id'] = msg_id
    return encode(out)


def publish(topic: str, msg_text: str) -> str:
    """Return a ``publish`` frame around a message already encoded (converted once per topic)."""
    return '{"op":"publish","topic":' + json.dumps(topic) + ',"msg":' + msg_text + '}'


def service_response(service: Any, msg_id: Any, ok: bool, values: Any) -> str:
    """Return a ``service_response`` frame (``result`` false: ``values`` says why)."""
    reply: dict[str, Any] = {
        'op': 'service_response',
        'service': service,
        'values': values,
        'result': ok,
    }
    if msg_id is not None:
        reply['id'] = msg_id
    return encode(reply)


def _no_constants(name: str) -> None:
    raise ValueError(f'{name} is not a JSON number')
