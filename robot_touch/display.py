"""A virtual X display (Xvfb) for machines without a screen: the UI still runs and renders."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time

from robot_touch.errors import RobotTouchError
from robot_touch.lifecycle import PARENT_ENV


class DisplayError(RobotTouchError):
    """No display and no Xvfb to make one."""


def has_display() -> bool:
    """Return True when $DISPLAY (or Wayland) points somewhere."""
    return bool(os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY'))


#: asks libX11 itself whether the X server of $DISPLAY accepts a connection (authorisation
#: included); run in a child process so that a dead forwarded display cannot hang us
_X_PROBE = (
    'import ctypes, ctypes.util, sys\n'
    "name = ctypes.util.find_library('X11')\n"
    'if not name: sys.exit(3)\n'
    'x = ctypes.CDLL(name)\n'
    'x.XOpenDisplay.restype = ctypes.c_void_p; x.XOpenDisplay.argtypes = [ctypes.c_char_p]\n'
    'd = x.XOpenDisplay(None)\n'
    'sys.exit(0 if d else 1)\n'
)


def display_answers(timeout: float = 5.0) -> tuple[bool, str]:
    """
    Return does the display in the environment really answer.

    (``DISPLAY`` can outlive its ssh -X session, or point at a server that refuses us.).

    :returns: (answers, what was found, in words).
    """
    wayland = os.environ.get('WAYLAND_DISPLAY')
    if wayland:
        runtime = os.environ.get('XDG_RUNTIME_DIR', '')
        path = wayland if os.path.isabs(wayland) else os.path.join(runtime, wayland)
        import socket

        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
            return True, f'Wayland display {wayland} answers'
        except OSError as exc:
            return (
                False,
                f'WAYLAND_DISPLAY={wayland} is set but {path} does not answer '
                f'({exc.strerror or exc})',
            )
    display = os.environ.get('DISPLAY')
    if not display:
        return False, 'no DISPLAY set'
    try:
        probe = subprocess.run(
            [sys.executable, '-c', _X_PROBE], timeout=timeout, capture_output=True
        )
    except subprocess.TimeoutExpired:
        return (
            False,
            f'DISPLAY={display} is set but its X server did not answer within {timeout:g} s',
        )
    if probe.returncode == 0:
        return True, f'display {display} answers'
    if probe.returncode == 3:
        return True, f'display {display} (libX11 not found: not checked)'
    return (
        False,
        f'DISPLAY={display} is set but no X server answers there (a closed ssh -X session?)',
    )


class Xvfb:
    """
    Start Xvfb on the first free display number; stop it on exit.

    :param size: screen size "WIDTHxHEIGHT".
    """

    def __init__(self, size: str = '1280x800') -> None:
        self.size = size
        self.process: subprocess.Popen | None = None
        self.display = ''

    def __enter__(self) -> 'Xvfb':
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> str:
        """Start the server on a free display number; returns the DISPLAY value (":N")."""
        binary = shutil.which('Xvfb')
        if binary is None:
            raise DisplayError(
                'no display and no Xvfb: install it with `sudo apt-get install xvfb` '
                '(make run does)'
            )
        # -displayfd: Xvfb picks a free number itself and writes it to the pipe when ready,
        # so there is no race with other X servers and no polling for lock files.
        read_fd, write_fd = os.pipe()
        # Through robot_touch.lifecycle: Xvfb ends with us, even if we are killed.
        proc = subprocess.Popen(
            [
                sys.executable,
                '-m',
                'robot_touch.lifecycle',
                binary,
                '-displayfd',
                str(write_fd),
                '-screen',
                '0',
                f'{self.size}x24',
                '-nolisten',
                'tcp',
                '-noreset',
            ],
            env={**os.environ, PARENT_ENV: str(os.getpid())},
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write_fd)
        # Read up to the newline: Xvfb dies if it cannot write the whole line.
        text, deadline = b'', time.monotonic() + timeout
        while not text.endswith(b'\n') and time.monotonic() < deadline:
            ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(read_fd, 32) if ready else b''
            if not chunk:
                break
            text += chunk
        os.close(read_fd)
        number = text.decode().strip()
        if not number:
            proc.kill()
            raise DisplayError(f'Xvfb did not start within {timeout:g} s')
        self.process, self.display = proc, f':{number}'
        return self.display

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
