"""
The touch UI running for real.

Kivy on its own Xvfb display, the touch_ui node in a background thread, and a teleop stand-in in
another process (``teleop_peer.py``) whose JSON-line output tells what really went out over DDS.

Kivy allows one window per process, so the app starts once for the whole session.
Touches are real Kivy MotionEvents dispatched through the EventLoop, like a touchscreen's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable

import pytest

HERE = Path(__file__).resolve().parent
SIZE = (1280, 800)


@pytest.fixture(scope='session')
def xdisplay():
    """Provide a private Xvfb (24-bit, big enough for both orientations) for the Kivy window."""
    if not shutil.which('Xvfb'):
        pytest.skip('Xvfb is not installed (make xvfb)')
    from robot_touch.display import Xvfb

    old = os.environ.get('DISPLAY')
    with Xvfb(size='1600x1600') as xvfb:
        os.environ['DISPLAY'] = xvfb.display
        yield xvfb.display
        if old is not None:
            os.environ['DISPLAY'] = old
        else:
            del os.environ['DISPLAY']


class Peer:
    """The teleop stand-in process and what it has printed."""

    def __init__(self, joint_names: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / 'teleop_peer.py'), *joint_names],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        self.lines: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self._lock:
                self.lines.append(item)

    def of(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [x for x in self.lines if x['kind'] == kind]

    def clear(self) -> None:
        with self._lock:
            self.lines.clear()

    def send(self, **cmd: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + '\n')
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Harness:
    """The running app, its node, the peer, and helpers to touch and wait."""

    def __init__(self, app, node, peer: Peer) -> None:
        from kivy.base import EventLoop

        self.app, self.node, self.peer, self.loop = app, node, peer, EventLoop

    @property
    def ids(self):
        return self.app.root.ids

    def pump(self, frames: int = 1) -> None:
        for _ in range(frames):
            self.loop.idle()

    def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = 'condition'
    ) -> Any:
        """Run frames until ``predicate()`` is truthy (returned) or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            value = predicate()
            if value:
                return value
        raise AssertionError(f'timed out after {timeout} s waiting for {what}')

    def settle(self, seconds: float) -> None:
        """Keep the app running for ``seconds`` (lets a rate limiter flush, a hold elapse)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.pump()

    def center(self, widget) -> tuple[float, float]:
        return widget.to_window(*widget.center)

    def finger(self, x: float, y: float, size: float | None = None, pressure: float | None = None):
        from robot_touch.ui.synthetic_touch import Finger  # Kivy loads only once the display is up

        return Finger(x, y, size, pressure)

    def end_real_nodes(self, procs: list[subprocess.Popen]) -> None:
        """Stop the real nodes a test ran instead of the stand-in, then restart the stand-in."""
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        self.restart_peer()

    def restart_peer(self) -> None:
        """Start a fresh teleop stand-in (after a test ran the real teleop node instead)."""
        self.peer.stop()
        profile = self.app.profile
        self.peer = Peer(profile.joint_names + ([profile.gripper.name] if profile.gripper else []))
        self.wait_for(lambda: self.peer.of('ready'), 20, 'the teleop peer')
        self.wait_for(
            lambda: (
                self.node.cli_estop.service_is_ready()
                and self.node.pub_target.get_subscription_count() > 0
            ),
            20,
            "the peer's services",
        )

    def tap(self, widget) -> None:
        f = self.finger(*self.center(widget))
        f.down()
        self.pump()
        f.up()
        self.pump()


@pytest.fixture(scope='session')
def ui(xdisplay):
    """Provide the app (1280x800), its ROS node, and the teleop peer, started once."""
    data = tempfile.mkdtemp(prefix='robot_touch_ui_')
    old_data = os.environ.get('ROBOT_TOUCH_DATA')
    os.environ['ROBOT_TOUCH_DATA'] = data  # waypoint files go here, not to the user's folder
    os.environ['KIVY_NO_ARGS'] = '1'
    from kivy.config import Config

    Config.set('graphics', 'width', str(SIZE[0]))
    Config.set('graphics', 'height', str(SIZE[1]))
    Config.set('graphics', 'resizable', '1')
    Config.set('kivy', 'exit_on_escape', '0')
    Config.set('input', 'mouse', 'mouse,disable_multitouch')

    from robot_touch.nodes.touch_ui import start_node, stop_node

    node, executor, thread = start_node([])
    from robot_touch.ui.app import RobotTouchApp
    from robot_touch.ui.embedded import start_embedded, stop_embedded

    app = RobotTouchApp(backend=node, profile=node.profile, settings=node.ui_settings())
    peer = Peer(
        node.profile.joint_names + ([node.profile.gripper.name] if node.profile.gripper else [])
    )
    h = None
    try:
        start_embedded(app)
        h = Harness(app, node, peer)
        h.wait_for(lambda: peer.of('ready'), 20, 'the teleop peer')
        h.wait_for(
            lambda: (
                node.latest_joint_state() is not None
                and node.pub_target.get_subscription_count() > 0
                and node.pub_joint_target.get_subscription_count() > 0
                and node.cli_estop.service_is_ready()
                and node.cli_params.service_is_ready()
            ),
            20,
            'DDS discovery between the UI and the peer',
        )
        yield h
    finally:
        # The peer may have been replaced (restart_peer): stop the current one.
        (h.peer if h is not None else peer).stop()
        try:
            stop_embedded(app)
        except Exception:  # teardown must reach the node shutdown
            pass
        stop_node(node, executor, thread)
        shutil.rmtree(data, ignore_errors=True)
        if old_data is None:
            os.environ.pop('ROBOT_TOUCH_DATA', None)
        else:
            os.environ['ROBOT_TOUCH_DATA'] = old_data
