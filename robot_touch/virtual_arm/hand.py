"""
The virtual arm's hand: a person (or a test) moving joints whose torque is off.

A real arm is calibrated, taught or checked by turning its released joints by hand; the
virtual arm needs the same to rehearse ``robot-touch calibrate``, LeRobot's range
recording, or free drive. :class:`Hand` turns a joint's servo, at a hand's speed, to a
joint angle through the arm's true mounting, and reads back the true state of every servo
(its encoder, what it reports, its torque). A holding servo cannot be turned: the hand
refuses, as a real one would be fought by the motor.

Other processes reach the hand through a control channel: a Unix socket (owner-only),
one JSON request per line, one JSON answer per line::

    {"op": "move", "joint": "shoulder_pan", "to": 0.5}      -> {"ok": true, "position": 0.5, ...}
    {"op": "state"}                                          -> {"ok": true, "joints": {...}}

``robot-touch virtual-arm move|state`` is its command-line client.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import socket
import socketserver
import threading
import time
from typing import Any, TYPE_CHECKING

from robot_touch.errors import RobotTouchError

if TYPE_CHECKING:
    from robot_touch.virtual_arm.server import VirtualArm

#: How fast a hand turns a joint unless told otherwise (rad/s; m/s for a prismatic joint
#: scales by the joint's own units): slow enough for a calibration to see the way.
HAND_SPEED = 1.0
#: Longest a request waits for a move to finish
MOVE_TIMEOUT = 30.0
#: Longest line the control channel accepts
MAX_REQUEST = 4096


class HandError(RobotTouchError):
    """The hand cannot do that (unknown joint, torque on, no such arm on that channel)."""


class Hand:
    """Moves released joints of a :class:`~robot_touch.virtual_arm.server.VirtualArm`."""

    def __init__(self, arm: VirtualArm) -> None:
        self.arm = arm

    def _servo(self, joint: str) -> Any:
        try:
            return self.arm.joint_servos[joint]
        except KeyError:
            known = ', '.join(self.arm.joint_servos)
            raise HandError(
                f'{joint!r} is not a joint of {self.arm.profile.name} (joints: {known})'
            ) from None

    def move(
        self,
        joint: str,
        position: float,
        speed: float = HAND_SPEED,
        wait: bool = True,
        timeout: float = MOVE_TIMEOUT,
    ) -> float:
        """
        Turn ``joint`` (torque off) to ``position`` (rad, or m) at ``speed``.

        With ``wait``, return once it is there (at once on an arm that is not running). Returns the
        joint's true position.

        :raises HandError: unknown joint, bad number, or the servo holds torque.
        """
        servo = self._servo(joint)
        cal = self.arm.mounting[joint]
        if not (isinstance(position, (int, float)) and abs(position) < 1e6 and speed > 0):
            raise HandError(f'move {joint}: position and speed must be finite numbers, speed > 0')

        def push() -> None:
            if servo.torque_enabled:
                raise HandError(
                    f'{joint} holds torque: release it (torque off) before moving it by hand'
                )
            servo.push(cal.to_raw(float(position)), speed * cal.units_per_rad)

        self.arm.call(push)
        if not self.arm.running:  # no time passes on a stopped arm: the hand puts it there
            servo.position, servo.hand_target = servo.hand_target, None
        elif wait:
            deadline = time.monotonic() + timeout
            while self.arm.call(lambda: servo.hand_target) is not None:
                if time.monotonic() > deadline:
                    raise HandError(f'move {joint}: not there after {timeout:g} s')
                time.sleep(0.005)
        return self.position(joint)

    def position(self, joint: str) -> float:
        """Return the joint's true position in rad (or m) from its servo's encoder and mounting."""
        servo = self._servo(joint)
        return self.arm.mounting[joint].to_joint(servo.position)

    def positions(self) -> dict[str, float]:
        """Every joint's true position."""
        return {name: self.position(name) for name in self.arm.joint_servos}

    def state(self) -> dict[str, dict[str, Any]]:
        """
        Joint name -> the true servo state.

        Position (rad), encoder (raw, before offsets), reported (what the servo answers a position
        read with), torque, velocity (raw/s), servo id.
        """

        def snapshot() -> dict[str, dict[str, Any]]:
            out = {}
            device = self.arm.device
            ids = {id(servo): sid for sid, servo in device.servos.items()}
            for name, servo in self.arm.joint_servos.items():
                sid = ids.get(id(servo))
                out[name] = {
                    'position': self.arm.mounting[name].to_joint(servo.position),
                    'encoder': servo.position,
                    'reported': None if sid is None else device.present_position(sid),
                    'torque': servo.torque_enabled,
                    'velocity': servo.velocity,
                    'servo_id': sid,
                }
            return out

        return self.arm.call(snapshot)


# ---------------------------------------------------------------------------- the channel


class _ControlServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, path: str, hand: Hand) -> None:
        self.hand = hand
        super().__init__(path, _Handler)

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        try:
            os.unlink(self.server_address)  # type: ignore[arg-type]
        except OSError:
            pass


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        hand: Hand = self.server.hand  # type: ignore[attr-defined]
        for line in self.rfile:
            if len(line) > MAX_REQUEST:
                self._answer({'ok': False, 'error': 'request too long'})
                return
            self._answer(answer(hand, line))

    def _answer(self, reply: dict[str, Any]) -> None:
        self.wfile.write(json.dumps(reply).encode() + b'\n')
        self.wfile.flush()


def answer(hand: Hand, line: bytes) -> dict[str, Any]:
    """Return the reply to one request line (never raises: errors are answers)."""
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise HandError("a request is a JSON object with an 'op'")
        op = request.get('op')
        if op == 'move':
            position = hand.move(
                str(request.get('joint')),
                _number(request, 'to'),
                _number(request, 'speed', HAND_SPEED),
            )
            return {'ok': True, 'joint': request.get('joint'), 'position': position}
        if op == 'state':
            return {'ok': True, 'arm': hand.arm.profile.name, 'joints': hand.state()}
        raise HandError(f'unknown op {op!r}; known: move, state')
    except (HandError, RobotTouchError) as exc:
        return {'ok': False, 'error': str(exc)}
    except ValueError as exc:
        return {'ok': False, 'error': f'not a valid request: {exc}'}


def _number(request: dict[str, Any], key: str, default: float | None = None) -> float:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HandError(f'{key} must be a number, got {value!r}')
    return float(value)


def serve_control(hand: Hand, path: str | Path) -> _ControlServer:
    """Serve ``hand`` on a Unix socket at ``path`` (owner-only), in a background thread."""
    path = str(path)
    if os.path.lexists(path):
        if not _is_stale_socket(path):
            raise HandError(f'{path} exists and is not a stale control socket; not replacing it')
        os.unlink(path)
    old_mask = os.umask(0o177)  # the socket is created owner-only, never briefly open to all
    try:
        server = _ControlServer(path, hand)
    except OSError as exc:
        raise HandError(f'cannot open the control channel {path}: {exc.strerror}') from None
    finally:
        os.umask(old_mask)
    threading.Thread(target=server.serve_forever, name='virtual-arm-control', daemon=True).start()
    return server


def _is_stale_socket(path: str) -> bool:
    import stat

    try:
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return True  # nobody listens: left over from a killed virtual arm
    finally:
        probe.close()
    return False


def request(
    path: str | Path, message: dict[str, Any], timeout: float = MOVE_TIMEOUT + 5.0
) -> dict[str, Any]:
    """
    Send one request on the control channel at ``path``; its answer.

    :raises HandError: nobody listens there, or the answer is not one.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            sock.sendall(json.dumps(message).encode() + b'\n')
            reply = sock.makefile('rb').readline()
        except OSError as exc:
            raise HandError(
                f'no virtual arm answers on {path} ({exc.strerror or exc}); is it running?'
            ) from None
    try:
        return json.loads(reply)
    except ValueError:
        raise HandError(f'the virtual arm on {path} sent no answer') from None
