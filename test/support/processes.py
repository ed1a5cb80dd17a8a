"""
Helpers for integration tests across real processes over real DDS.

* :func:`spawn_node` starts a node module as a child process (``sys.executable``, the
  environment with this run's ROS_DOMAIN_ID), output to a log file shown on failure.
* :func:`terminate` stops it (SIGINT, then SIGKILL) — call it in a ``finally`` / teardown.
* :func:`wait_until` (from ``support.waiting``) polls a predicate with a deadline.
* :class:`RosProbe` is a small rclpy node spinning in a background thread, with
  :meth:`RosProbe.collect` (keep every message of a topic), :meth:`RosProbe.wait_for`
  (deadline-and-poll) and :meth:`RosProbe.call` (service call with a timeout).
* :func:`ros_probe` is a pytest fixture wrapping it (import it into a test module).
* :class:`Console` reads a child process's output line by line with a deadline and types
  into its stdin (interactive commands such as ``robot-touch calibrate``).
"""

from __future__ import annotations

import os
from pathlib import Path
import queue
import signal
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Iterator

import pytest
from robot_touch.graph import command_line, ProcessSpec
from support.waiting import wait_until


def spawn_node(
    module: str,
    name: str,
    parameters: dict[str, Any] | None = None,
    namespace: str = '',
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """
    Start ``module.main()`` as a ROS node process named ``name``.

    Output goes to a temporary log file (``proc.log_path``) so a chatty child never blocks on
    a full pipe; :func:`terminate` returns the log text.
    """
    spec = ProcessSpec(
        name=name, executable=name, module=module, parameters=dict(parameters or {})
    )
    log = tempfile.NamedTemporaryFile('w+', prefix=f'{name}_', suffix='.log', delete=False)
    proc = subprocess.Popen(
        command_line(spec, namespace=namespace),
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, 'PYTHONUNBUFFERED': '1', **(env or {})},
    )
    proc.log_path = Path(log.name)  # type: ignore[attr-defined]
    log.close()
    return proc


def terminate(proc: subprocess.Popen, timeout: float = 5.0) -> str:
    """Stop ``proc`` (SIGINT, then SIGKILL after ``timeout``) and return its log text."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
    path: Path | None = getattr(proc, 'log_path', None)
    if path is None or not path.exists():
        return ''
    text = path.read_text(errors='replace')
    path.unlink(missing_ok=True)
    return text


class RosProbe:
    """A test-side rclpy node in its own context, spun by a background thread."""

    def __init__(self, name: str = 'test_probe', namespace: str = '') -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, namespace=namespace, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # shutdown races end the thread quietly
                if not self.context.ok():
                    return
                raise

    def collect(
        self,
        msg_type: Any,
        topic: str,
        qos: int = 50,
        callback: Callable[[Any], None] | None = None,
    ) -> list:
        """
        Subscribe to ``topic``.

        Returns a list that receives (time.monotonic() at arrival, message) for every message.
        """
        box: list = []

        def on_msg(msg: Any) -> None:
            stamp = time.monotonic()
            with self._lock:
                box.append((stamp, msg))
            if callback is not None:
                callback(msg)

        self.node.create_subscription(msg_type, topic, on_msg, qos)
        return box

    def publisher(self, msg_type: Any, topic: str, qos: int = 10) -> Any:
        return self.node.create_publisher(msg_type, topic, qos)

    def wait_for(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Deadline-and-poll: ``predicate``'s first truthy value, or None after ``timeout`` s."""
        return wait_until(predicate, timeout)

    def call(self, srv_type: Any, name: str, request: Any, timeout: float = 5.0) -> Any:
        """Call a service; raises TimeoutError if it is not there or does not answer in time."""
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise TimeoutError(f'service {name} not available within {timeout} s')
            future = client.call_async(request)
            if not wait_until(future.done, timeout):
                raise TimeoutError(f'service {name} did not answer within {timeout} s')
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        import rclpy

        try:
            self.executor.shutdown(timeout_sec=1.0)
            self.node.destroy_node()
        finally:
            rclpy.try_shutdown(context=self.context)
            self._thread.join(timeout=2.0)


@pytest.fixture
def ros_probe() -> Iterator[RosProbe]:
    """Provide a :class:`RosProbe`, closed after the test."""
    probe = RosProbe()
    try:
        yield probe
    finally:
        probe.close()


class Console:
    """A child process's output, line by line, readable with a deadline; its stdin to type."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def expect(self, *texts: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            self.seen.append(line)
            if all(text in line for text in texts):
                return line
        raise AssertionError(f'no line with {texts!r} in the output:\n{"".join(self.seen)}')

    def send(self, text: str = '') -> None:
        self.proc.stdin.write(text + '\n')
        self.proc.stdin.flush()
