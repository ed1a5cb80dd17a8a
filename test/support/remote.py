"""
Helpers of the remote tier (test/remote).

The whole graph started by ``robot-touch run --no-ui --remote`` (virtual arm on a pty, serial
bridge, teleop, gateway), reached over real WebSockets and TLS by clients we did not write
(roslibpy, the ``websockets`` client) and by the tablet app.

Ground truth is the virtual arm's true servo state (its hand's control channel), never our
own readings. One graph per test module; each run has its own namespace, data folder (key,
certificate, token) and ROS domain (test/conftest.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import queue
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from typing import Any

from robot_touch.lifecycle import PARENT_ENV

#: the tier whose scripts (tablet_driver.py) this module starts
REMOTE_TIER = Path(__file__).resolve().parent.parent / 'remote'
#: Generous: three Python processes importing rclpy, roboticstoolbox on 2 busy cores.
UP_TIMEOUT = 120.0


class RemoteGraph:
    """
    `robot-touch run --no-ui --remote` in a namespace of its own, and what it printed.

    :param data: ROBOT_TOUCH_DATA for every process (key, certificate, token).
    :param namespace: the arm's namespace (unique per run: the virtual arm's pty link is per
        namespace).
    :param prefix: argv before the command (``ip netns exec NS``).
    :param bind: the gateway's listen address.
    """

    def __init__(
        self, data: Path, namespace: str, prefix: tuple[str, ...] = (), bind: str = '::'
    ) -> None:
        self.data, self.namespace = data, namespace
        self.env = {**os.environ, 'ROBOT_TOUCH_DATA': str(data), 'PYTHONUNBUFFERED': '1'}
        # The run dies with this test process, however that ends (robot_touch.lifecycle).
        self.env[PARENT_ENV] = str(os.getpid())
        argv = [
            *prefix,
            sys.executable,
            '-m',
            'robot_touch.lifecycle',
            sys.executable,
            '-m',
            'robot_touch.cli.main',
            'run',
            '--no-ui',
            '--remote',
            '--remote-port',
            '0',
            '--remote-bind',
            bind,
            '--namespace',
            namespace,
        ]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = 0
        self.fingerprint = ''

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip('\n'))
            self._queue.put(line)

    def wait_up(self) -> None:
        deadline = time.monotonic() + UP_TIMEOUT
        while time.monotonic() < deadline and not (self.port and self.graph_ready()):
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            match = re.search(r'\[gateway\] GATEWAY wss?://\S+:(\d+) fingerprint (\S+)', line)
            if match:
                self.port, self.fingerprint = int(match.group(1)), match.group(2)
        if not (self.port and self.graph_ready()):
            raise AssertionError('the remote graph did not come up:\n' + self.tail())

    def graph_ready(self) -> bool:
        """
        Return whether the status line shows joint_states flowing and teleop up.

        Teleop is up once it has said its status: it starts its services only after it has
        looked for another commander.
        """
        return any(
            re.search(r'joint_states [1-9]\d* Hz', line) and re.search(r'teleop (?!: no)', line)
            for line in self.lines[-20:]
        )

    def tail(self, n: int = 60) -> str:
        return '\n'.join(self.lines[-n:])

    @property
    def token(self) -> str:
        label = self.namespace.strip('/') or 'default'
        return (self.data / 'remote' / label / 'token').read_text().strip()

    @property
    def cert_path(self) -> Path:
        return self.data / 'remote' / 'tls' / 'gateway.crt'

    @property
    def link(self) -> str:
        from robot_touch.graph import default_virtual_link

        return default_virtual_link(self.namespace)

    def true_joints(self) -> dict[str, float]:
        """Return the virtual arm's true joint positions (servo encoders through the mounting)."""
        from robot_touch.virtual_arm.hand import request

        reply = request(self.link + '.control', {'op': 'state'}, timeout=5.0)
        assert reply.get('ok'), reply
        return {name: float(j['position']) for name, j in reply['joints'].items()}

    def child_pid(self, module: str) -> int | None:
        """Return the pid of the graph's process running ``module`` (children of the runner)."""
        for entry in Path('/proc').iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / 'stat').read_text()
                ppid = int(stat.rsplit(')', 1)[1].split()[1])
                cmdline = (entry / 'cmdline').read_bytes().decode(errors='replace')
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid and module in cmdline:
                return int(entry.name)
        return None

    def stop(self) -> str:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.tail()


def pinned_context(cert: Path) -> ssl.SSLContext:
    """Return a client context trusting exactly the gateway's certificate (host name unchecked)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(cert))
    ctx.check_hostname = False
    return ctx


class RawClient:
    """A rosbridge client on the ``websockets`` library's sync client: frames as they are."""

    def __init__(self, url: str, cert: Path) -> None:
        from websockets.sync.client import connect

        self._opened = connect(
            url,
            ssl=pinned_context(cert) if url.startswith('wss') else None,
            open_timeout=10,
            max_size=None,
            compression=None,
        )
        self.ws = self._opened.__enter__()

    def send(self, message: Any) -> None:
        self.ws.send(message if isinstance(message, (str, bytes)) else json.dumps(message))

    def recv(self, timeout: float = 5.0) -> dict | None:
        from websockets.exceptions import ConnectionClosed

        try:
            return json.loads(self.ws.recv(timeout=timeout))
        except (TimeoutError, ConnectionClosed):
            return None

    def until(self, predicate: Any, timeout: float = 5.0) -> dict | None:
        """Return the first frame for which ``predicate(frame)`` is true (None after timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if frame is not None and predicate(frame):
                return frame
            if frame is None and self.closed:
                return None
        return None

    @property
    def closed(self) -> bool:
        from websockets.protocol import State

        return self.ws.protocol.state is State.CLOSED

    def auth(self, token: str) -> None:
        from robot_touch.gateway.auth import auth_request

        self.send(auth_request(token, 'test', 'gateway', time.time()))

    def call(self, service: str, args: Any = None, timeout: float = 5.0) -> dict | None:
        call_id = f'c{time.monotonic_ns()}'
        self.send({'op': 'call_service', 'service': service, 'args': args or {}, 'id': call_id})
        return self.until(
            lambda f: f.get('op') == 'service_response' and f.get('id') == call_id, timeout
        )

    def close(self) -> None:
        self.ws.close()


def moved(before: dict[str, float], after: dict[str, float]) -> float:
    """Largest joint change (rad)."""
    return max(abs(after[k] - before[k]) for k in before)


def settle(graph: RemoteGraph, timeout: float = 10.0, still: float = 0.3) -> dict[str, float]:
    """Wait until the true joints stop changing for ``still`` seconds; return them."""
    last = graph.true_joints()
    quiet_since = time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = graph.true_joints()
        if moved(last, now) > 1e-4:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= still:
            return now
        last = now
    raise AssertionError('the arm did not come to rest')


class TabletProcess:
    """
    The tablet app in its own process (``tablet_driver.py``), on ``display``.

    rclpy and roboticstoolbox are blocked in it; it runs optionally in a network namespace
    (``prefix``).
    """

    def __init__(
        self,
        url: str,
        token: str,
        fingerprint: str,
        display: str,
        home: Path,
        prefix: tuple[str, ...] = (),
    ) -> None:
        env = {
            **os.environ,
            'DISPLAY': display,
            'ROBOT_TOUCH_DATA': str(home / 'data'),
            'KIVY_NO_CONSOLELOG': '1',
            'KIVY_NO_FILELOG': '1',
            'KIVY_HOME': str(home / 'kivy'),
        }
        self.proc = subprocess.Popen(
            [
                *prefix,
                sys.executable,
                str(REMOTE_TIER / 'tablet_driver.py'),
                url,
                token,
                fingerprint,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                pass

    def ask(self, cmd: dict, kind: str, timeout: float = 20.0) -> dict:
        """Send a command; the first answer of ``kind`` after it."""
        from support.waiting import wait_for

        n = len(self.lines)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + '\n')
        self.proc.stdin.flush()
        return wait_for(
            lambda: next((x for x in self.lines[n:] if x['kind'] == kind), None), timeout, kind
        )

    def state(self) -> dict:
        return self.ask({'cmd': 'state'}, 'state')

    def until(self, predicate: Any, timeout: float) -> dict | None:
        """Return the first state for which ``predicate(state)`` is true (None after timeout)."""
        from support.waiting import wait_until

        return wait_until(lambda: (lambda s: s if predicate(s) else None)(self.state()), timeout)

    def operating(self, timeout: float = 60.0) -> dict:
        """
        Wait for the app to be up, connected, holding control, motion controls on.

        Then press Enable if teleop holds (the lease passed before: the operator enables). The
        app must first have shown teleop's own state: a tap decided on an older state would
        toggle an enabled teleop off.
        """
        from support.waiting import wait_for

        wait_for(lambda: any(x['kind'] == 'ready' for x in self.lines), 60, 'the tablet app')
        state = self.until(
            lambda s: (
                s['arm_ui']
                and 'you have control' in s['link_text']
                and not s['views_disabled']
                and s['teleop_enabled'] in ('true', 'false')
                and s['enabled'] == (s['teleop_enabled'] == 'true')
            ),
            timeout,
        )
        assert state, self.lines[-3:]
        if not state['enabled']:
            self.ask({'cmd': 'tap', 'id': 'enable'}, 'tapped')
            state = self.until(lambda s: s['enabled'] and s['teleop_enabled'] == 'true', 10)
            assert state, f'Enable did not enable teleop: {self.lines[-3:]}'
        return state

    def close(self) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write('{"cmd": "quit"}\n')
            self.proc.stdin.flush()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
