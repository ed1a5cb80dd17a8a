"""
The virtual arm: an emulated servo controller behind a real pseudo-terminal.

A :class:`VirtualArm` opens a pty pair, hands the slave's path to the host (the serial bridge,
a test, ``robot-touch bench``), and in a background thread feeds whatever the host writes to
the protocol's :class:`~robot_touch.virtual_arm.device.DeviceEmulator`, writing the replies
back as soon as a frame is complete. Servo models advance by real elapsed time.

Faults make the serial path's error handling testable without hardware: replies dropped or
with one byte flipped, extra latency, and an unplug (the pty pair closes, the host sees EIO,
the ``link`` symlink vanishes) followed by a replug on a NEW pty with the link re-pointed, as
a USB adapter re-enumerates, and the controller's parser reset. A *silent* servo
(:meth:`VirtualArm.silence`) still obeys every write but its replies never reach the host,
as with a broken return line or a servo whose status replies collide.

The arm has a hand (:attr:`VirtualArm.hand`, :mod:`robot_touch.virtual_arm.hand`) that moves
released joints and reads the true servo state, and, with ``control``, a control channel
(a Unix socket) through which other processes use it. The host's line speed is read from
the pty (Linux ``TCGETS2``), so a servo set to another baud rate hears nothing.

(Over 400 lines: one serving loop owns the pty, the faults, the replug and the calls other
threads make into it; split, each part would need the loop's private state.)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
import fcntl
import math
import os
from pathlib import Path
import random
import select
import struct
import sys
import threading
import time
import tty
from typing import Any, Callable, Mapping

from robot_touch.core.profile import ArmProfile, Calibration, load_profile
from robot_touch.errors import RobotTouchError
from robot_touch.protocols.registry import get_bus_class, get_device_class
from robot_touch.virtual_arm.arm import build_mounting, build_servos
from robot_touch.virtual_arm.device import DeviceEmulator, ServoModel

#: Longest the loop sleeps without traffic: servo models advance at least this often.
IDLE_STEP = 0.005  # s
READ_CHUNK = 4096
#: Linux ioctl reading a tty's termios2 (with the exact bit rates): _IOR('T', 0x2A, 44 bytes)
_TCGETS2 = 0x802C542A
_TERMIOS2_SIZE = 44
_ISPEED_AT = 36


class VirtualArmError(RobotTouchError):
    """The virtual arm cannot start as asked (bad fault setting, link path taken)."""


@dataclass(frozen=True)
class Faults:
    """
    Faults the virtual arm injects on its replies and its port.

    :param drop: probability that a reply is not sent.
    :param corrupt: probability that one byte of a reply is flipped (XOR with a random non-zero
        byte).
    :param unplug_after: seconds after start at which the port is unplugged (None: never).
    :param replug_after: seconds the port stays unplugged before a new one appears.
    :param latency: seconds each reply is held back.
    :param seed: random seed, for reproducible fault patterns.
    """

    drop: float = 0.0
    corrupt: float = 0.0
    unplug_after: float | None = None
    replug_after: float = 1.0
    latency: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ('drop', 'corrupt'):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise VirtualArmError(f'fault {name} must be a probability in 0..1, got {value!r}')
        for name in ('replug_after', 'latency') + (
            ('unplug_after',) if self.unplug_after is not None else ()
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise VirtualArmError(
                    f'fault {name} must be a non-negative number of seconds, got {value!r}'
                )


@dataclass
class ArmStats:
    """What the virtual arm did, for tests and the CLI's exit summary."""

    received: int = 0  # bytes from the host
    replies: int = 0  # replies written
    dropped: int = 0
    corrupted: int = 0
    overflowed: int = 0  # replies (partly) lost because the host did not read
    unplugs: int = 0
    device_errors: int = 0  # exceptions raised by the device emulator (bugs), survived


class VirtualArm:
    """
    An emulated arm controller on a pseudo-terminal.

    :param profile: the arm profile (or its name/path); one servo model per joint.
    :param protocol: the device protocol to emulate (default: the profile's).
    :param faults: faults to inject (default: none).
    :param link: a symlink to create pointing at the pty (re-pointed after a replug).
    :param options: device options (default: the profile's ``protocol_options``, which is what the
        host backend gets too, plus the baud rate the servos were set to when the arm was
        assembled: the profile's, or the protocol's usual one).
    :param on_port_change: called with the new path after a replug (e.g. to print it).
    :param mounting: joint name -> how its servo is mounted (default: the profile's nominal
        calibration), see :mod:`robot_touch.virtual_arm.arm`.
    :param control: path of a Unix socket to serve the hand on (None: no control channel).

    Usable as a context manager (``with VirtualArm(p) as arm: ... arm.port_path``).
    """

    def __init__(
        self,
        profile: ArmProfile | str | Path,
        protocol: str | None = None,
        faults: Faults | None = None,
        link: str | Path | None = None,
        options: Mapping[str, Any] | None = None,
        on_port_change: Callable[[str], None] | None = None,
        mounting: Mapping[str, Calibration] | None = None,
        control: str | Path | None = None,
    ) -> None:
        from robot_touch.virtual_arm.hand import Hand

        self.profile = profile if isinstance(profile, ArmProfile) else load_profile(profile)
        self.protocol = protocol or self.profile.protocol
        device_class = get_device_class(self.protocol)
        try:
            #: joint name -> how its servo is mounted (the arm's true build)
            self.mounting: dict[str, Calibration] = build_mounting(self.profile, mounting)
        except KeyError as exc:
            raise VirtualArmError(f'mounting: {exc.args[0]}') from None
        #: servo id -> model; the device mutates these, tests may read them (move them by hand)
        self.servos: dict[int, ServoModel] = build_servos(self.profile, self.mounting)
        #: joint name -> its servo (the same object whatever id the servo is given later)
        self.joint_servos: dict[str, ServoModel] = {
            spec.name: self.servos[spec.servo_id] for spec in self.profile.all_joints
        }
        options = dict(self.profile.protocol_options if options is None else options)
        same = self.protocol == self.profile.protocol
        options.setdefault(
            'baudrate',
            self.profile.baudrate if same else get_bus_class(self.protocol).default_baudrate,
        )
        try:
            self.device: DeviceEmulator = device_class(self.servos, options)
        except (TypeError, ValueError) as exc:
            raise VirtualArmError(f'{self.protocol} device: bad protocol_options: {exc}') from None
        #: moves released joints and reads the true servo state (tests, the control channel)
        self.hand = Hand(self)
        self.control = str(control) if control is not None else None
        self._control_server: Any = None
        self.faults = faults or Faults()
        self.link = str(link) if link is not None else None
        self.on_port_change = on_port_change
        self.stats = ArmStats()
        #: the pty slave's path (the last one, while unplugged)
        self.port_path: str | None = None
        self._rng = random.Random(self.faults.seed)
        self._master: int | None = None
        self._slave: int | None = None
        self._pending: deque[tuple[float, bytes]] = deque()
        self._requests: deque[tuple[Callable[[], Any], threading.Event, list[Any]]] = deque()
        self._wake: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: servo ids whose replies are suppressed (see :meth:`silence`)
        self.silent: frozenset[int] = frozenset()

    # -- public control ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Return True while the serving thread runs (servos move with time only then)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def plugged(self) -> bool:
        """Return True while the pty exists (False between an unplug and the replug)."""
        return self._master is not None

    def start(self) -> VirtualArm:
        """Open the pty (``port_path`` is set on return) and serve it in a background thread."""
        if self._thread is not None:
            return self
        self._check_link()
        try:
            self._open_pty()
        except BaseException:
            self._close_pty()
            raise
        self._wake = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f'virtual-arm-{self.profile.name}', daemon=True
        )
        self._thread.start()
        if self.control:
            from robot_touch.virtual_arm.hand import serve_control

            try:
                self._control_server = serve_control(self.hand, self.control)
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving, close the pty and remove the link."""
        server, self._control_server = self._control_server, None
        if server is not None:
            server.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._poke()
            thread.join(timeout=5.0)
        self._close_pty()
        if self._wake is not None:
            for fd in self._wake:
                os.close(fd)
            self._wake = None

    def unplug(self) -> None:
        """Simulate pulling the USB cable: the pty pair closes and the link vanishes."""
        self.call(self._unplug)

    def replug(self) -> None:
        """Simulate plugging it back: a new pty, the link re-pointed, the parser reset."""
        self.call(self._replug)

    def power_cycle(self) -> None:
        """Switch the servos' supply off and on (they come back released, their RAM reset)."""
        try:
            self.call(self.device.power_cycle)
        except NotImplementedError as exc:
            raise VirtualArmError(str(exc)) from None

    def call(self, function: Callable[[], Any]) -> Any:
        """
        Run ``function`` in the serving thread, between two packets, and return its result.

        Directly when the arm is not running. This is how other threads touch the servos.
        """
        if (
            self._thread is None
            or not self._thread.is_alive()
            or threading.current_thread() is self._thread
        ):
            return function()
        done = threading.Event()
        result: list[Any] = []
        self._requests.append((function, done, result))
        self._poke()
        if not done.wait(timeout=5.0):
            raise VirtualArmError(
                f'virtual arm did not run {getattr(function, "__name__", function)} within 5 s'
            )
        if result and isinstance(result[0], BaseException):
            raise result[0]
        return result[0] if result else None

    def silence(self, *servo_ids: int) -> None:
        """
        Make exactly ``servo_ids`` silent (none: every servo answers again).

        A silent servo keeps executing goals and torque writes (its motion is the ground
        truth a test checks) but none of its status replies is sent.
        """
        unknown = set(servo_ids) - set(self.servos)
        if unknown:
            raise VirtualArmError(
                f'no servo with id {sorted(unknown)}; servos: {sorted(self.servos)}'
            )
        self.silent = frozenset(servo_ids)

    def __enter__(self) -> VirtualArm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop ---------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._wake is not None
        wake_fd = self._wake[0]
        started = last = time.monotonic()
        unplug_at = (
            None if self.faults.unplug_after is None else started + self.faults.unplug_after
        )
        replug_at: float | None = None
        while not self._stop.is_set():
            timeout = IDLE_STEP
            if self._pending:
                timeout = max(0.0, min(timeout, self._pending[0][0] - time.monotonic()))
            fds = [wake_fd] if self._master is None else [wake_fd, self._master]
            readable, _, _ = select.select(fds, [], [], timeout)
            now = time.monotonic()
            # Advance the servos before answering, so a position read is up to date.
            try:
                self.device.step(now - last)
            except Exception as exc:  # a device bug must not kill the port
                self._device_error('step', exc)
            last = now
            if wake_fd in readable:
                os.read(wake_fd, 64)
                self._serve_requests()
            if self._master is not None and self._master in readable:
                self._receive(now)
            if self._pending:
                self._flush_due(now)
            if unplug_at is not None and now >= unplug_at:
                unplug_at = None
                self._unplug()
                replug_at = now + self.faults.replug_after
            if replug_at is not None and now >= replug_at:
                replug_at = None
                self._replug()

    def _receive(self, now: float) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO: no slave end open (cannot happen while we hold ours)
            return
        self.stats.received += len(data)
        try:
            self.device.set_line_speed(self._line_speed())
            replies = self.device.feed(data)
        except Exception as exc:  # a device bug must not kill the port
            self._device_error('feed', exc)
            return
        for reply in replies:
            self._send(reply, now)

    def _line_speed(self) -> int | None:
        """Return the bit rate the host set on its end of the pty (None: cannot tell)."""
        if self._slave is None:
            return None
        buf = bytearray(_TERMIOS2_SIZE)
        try:
            fcntl.ioctl(self._slave, _TCGETS2, buf)
        except OSError:
            return None
        return struct.unpack_from('I', buf, _ISPEED_AT)[0] or None

    def _device_error(self, method: str, exc: Exception) -> None:
        self.stats.device_errors += 1
        if self.stats.device_errors <= 10:  # enough to find the bug, not a flood
            print(
                f'virtual arm: {type(self.device).__name__}.{method} raised {exc!r}',
                file=sys.stderr,
            )

    def _send(self, reply: bytes, now: float) -> None:
        faults = self.faults
        if self.silent and _reply_servo_id(reply) in self.silent:
            return
        if faults.drop and self._rng.random() < faults.drop:
            self.stats.dropped += 1
            return
        if faults.corrupt and reply and self._rng.random() < faults.corrupt:
            garbled = bytearray(reply)
            garbled[self._rng.randrange(len(garbled))] ^= self._rng.randrange(1, 256)
            reply = bytes(garbled)
            self.stats.corrupted += 1
        if faults.latency > 0:
            self._pending.append((now + faults.latency, reply))
        else:
            self._write(reply)

    def _flush_due(self, now: float) -> None:
        while self._pending and self._pending[0][0] <= now:
            self._write(self._pending.popleft()[1])

    def _write(self, reply: bytes) -> None:
        if self._master is None:
            return
        try:
            written = os.write(self._master, reply)
        except BlockingIOError:
            written = 0
        except OSError:
            return
        if written < len(reply):
            # The host is not reading and the pty buffer is full: like an overrun on a UART.
            self.stats.overflowed += 1
        else:
            self.stats.replies += 1

    # -- plug / unplug ----------------------------------------------------------------------

    def _serve_requests(self) -> None:
        while self._requests:
            function, done, result = self._requests.popleft()
            try:
                result.append(function())
            except BaseException as exc:  # handed back to the caller's thread
                result.append(exc)
            finally:
                done.set()

    def _poke(self) -> None:
        if self._wake is not None:
            try:
                os.write(self._wake[1], b'!')
            except OSError:
                pass

    def _unplug(self) -> None:
        if self._master is None:
            return
        self._close_pty()
        self._pending.clear()
        self.stats.unplugs += 1

    def _replug(self) -> None:
        if self._master is not None:
            return
        self.device.reset()
        try:
            self._open_pty()
        except VirtualArmError as exc:  # the link could not be re-pointed: serve the pty anyway
            print(f'virtual arm: {exc}', file=sys.stderr)
        if self.on_port_change is not None and self.port_path is not None:
            try:
                self.on_port_change(self.port_path)
            except Exception as exc:  # a listener's failure must not stop the arm
                print(f'virtual arm: port-change callback raised {exc!r}', file=sys.stderr)

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        # Raw mode: no echo, no line editing, no CR/LF translation; binary protocols need it
        # even before the host's own termios setup.
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.port_path = os.ttyname(slave)
        if self.link:
            _point_link(self.link, self.port_path)

    def _close_pty(self) -> None:
        if self.link and self.port_path:
            _remove_link(self.link, self.port_path)
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None

    def _check_link(self) -> None:
        if self.link and os.path.lexists(self.link) and not os.path.islink(self.link):
            raise VirtualArmError(f'{self.link} exists and is not a symlink; not replacing it')


def _reply_servo_id(reply: bytes) -> int | None:
    """
    Return the servo id a status reply comes from, by its framing; None for other protocols.

    FT-SCS: FF FF ID LEN ... (Feetech protocol manual); DYNAMIXEL 2.0: FF FF FD 00 ID ...
    (ROBOTIS e-Manual, Protocol 2.0 status packet).
    """
    if reply[:4] == b'\xff\xff\xfd\x00' and len(reply) > 4:
        return reply[4]
    if reply[:2] == b'\xff\xff' and len(reply) > 2:
        return reply[2]
    return None


def _point_link(link: str, target: str) -> None:
    """Make ``link`` a symlink to ``target``, atomically (a reader never sees it missing)."""
    if os.path.lexists(link) and not os.path.islink(link):
        raise VirtualArmError(f'{link} exists and is not a symlink; not replacing it')
    temporary = f'{link}.{os.getpid()}.tmp'
    try:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(target, temporary)
        os.replace(temporary, link)
    except OSError as exc:
        raise VirtualArmError(f'cannot make the link {link}: {exc.strerror}') from None


def _remove_link(link: str, target: str) -> None:
    """Remove ``link`` if it still points at ``target`` (never someone else's file)."""
    try:
        if os.path.islink(link) and os.readlink(link) == target:
            os.unlink(link)
    except OSError:
        pass
