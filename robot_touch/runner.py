"""
Run the node graph as plain processes: what `robot-touch run` does on a pip install.

Starts each process of :func:`robot_touch.graph.describe` in order, prefixes and streams
their output, and shuts everything down on Ctrl-C, SIGTERM or SIGHUP (a closed ssh session),
or as soon as a required process exits — the exit code and message say which one.

The stop goes in dependency order (:attr:`ProcessSpec.layer`): first what commands the arm
(UI, teleop), then the hardware driver (the bridge's last act is a hold), then the device it
talks to; each layer gets SIGINT, then SIGTERM, then SIGKILL. Every child is also armed to
get SIGTERM if the runner itself dies (:mod:`robot_touch.lifecycle`), and runs in a session
of its own so a terminal's Ctrl-C reaches only the runner, which decides the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, TextIO

from robot_touch.errors import RobotTouchError
from robot_touch.graph import command_line, ProcessSpec
from robot_touch.lifecycle import PARENT_ENV

#: signals that stop the graph in order: Ctrl-C, `kill`/systemd/timeout, a closed terminal
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: seconds each layer gets after SIGINT, then after SIGTERM, before SIGKILL: the whole stop
#: of a three-layer graph stays under 3 s
LAYER_GRACE = (0.8, 0.25)
#: the same after a normal end (a finished demo), when nobody is waiting for the stop
CALM_GRACE = (5.0, 1.0)


class GraphFailed(RobotTouchError):
    """A process of the graph exited or never became ready."""


@dataclass
class RunningProcess:
    spec: ProcessSpec
    popen: subprocess.Popen
    lines: 'queue.Queue[str]' = field(default_factory=queue.Queue)
    reader: threading.Thread | None = None


class Supervisor:
    """
    Starts, watches and stops the processes of one graph.

    :param specs: the processes, in start order.
    :param namespace: ROS namespace applied to every node.
    :param env: environment for the children (defaults to ours).
    :param out: where prefixed output goes.
    :param ready_timeout: seconds to wait for a process's ``ready_prefix`` line.
    :param extra_env: per-process additions to the environment (name → {VAR: value}).
    """

    def __init__(
        self,
        specs: list[ProcessSpec],
        namespace: str = '',
        env: dict[str, str] | None = None,
        out: TextIO = sys.stdout,
        ready_timeout: float = 20.0,
        extra_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.specs = specs
        self.namespace = namespace
        self.env = dict(env if env is not None else os.environ)
        self.out = out
        self.ready_timeout = ready_timeout
        self.extra_env = extra_env or {}
        self.running: list[RunningProcess] = []
        self._out_lock = threading.Lock()
        self.on_line: Callable[[str, str], None] | None = None
        #: the signal that ended :meth:`supervise`, if one did
        self.stopped_by: signal.Signals | None = None
        #: seconds between status lines: often on a terminal, rarely in a log file
        self.status_period = 2.0 if getattr(out, 'isatty', lambda: False)() else 10.0

    def say(self, name: str, text: str) -> None:
        with self._out_lock:
            try:
                self.out.write(f'[{name}] {text}\n')
                self.out.flush()
            except (OSError, ValueError):
                pass  # the terminal is gone (ssh closed): keep running the stop, silently

    def _pump(self, proc: RunningProcess) -> None:
        assert proc.popen.stdout is not None
        for raw in proc.popen.stdout:
            line = raw.rstrip('\n')
            proc.lines.put(line)
            self.say(proc.spec.name, line)
            if self.on_line:
                self.on_line(proc.spec.name, line)

    def start(self) -> None:
        """Start every process; wait for each one's ready line where it has one."""
        for spec in self.specs:
            env = dict(self.env)
            env.update(self.extra_env.get(spec.name, {}))
            env.setdefault('PYTHONUNBUFFERED', '1')
            env[PARENT_ENV] = str(os.getpid())
            popen = subprocess.Popen(
                command_line(spec, self.namespace),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                text=True,
                bufsize=1,
                start_new_session=True,  # our Ctrl-C handling decides when children stop
            )
            proc = RunningProcess(spec, popen)
            proc.reader = threading.Thread(
                target=self._pump, args=(proc,), daemon=True, name=f'pump-{spec.name}'
            )
            proc.reader.start()
            self.running.append(proc)
            if spec.ready_prefix:
                self._wait_ready(proc)

    def _wait_ready(self, proc: RunningProcess) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise GraphFailed(
                    f'{proc.spec.name} exited with code {proc.popen.returncode} '
                    'before it was ready'
                )
            try:
                line = proc.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.startswith(proc.spec.ready_prefix):
                return
        raise GraphFailed(
            f'{proc.spec.name} did not print {proc.spec.ready_prefix!r} '
            f'within {self.ready_timeout:g} s'
        )

    def first_exit(self) -> RunningProcess | None:
        """Return the first required process that has exited, if any."""
        for proc in self.running:
            if proc.spec.required and proc.popen.poll() is not None:
                return proc
        return None

    def stop(self, grace: tuple[float, float] | float = LAYER_GRACE) -> None:
        """
        Stop every process, highest layer first (see the module docstring).

        Each layer gets SIGINT, then SIGTERM after ``grace[0]`` s, then SIGKILL after
        ``grace[1]`` s more; the next layer starts when this one has ended. A single number
        is the SIGINT grace (SIGTERM then gets up to 1 s).
        """
        if isinstance(grace, (int, float)):
            grace = (float(grace), min(1.0, float(grace)))
        for layer in sorted({p.spec.layer for p in self.running}, reverse=True):
            group = [p for p in self.running if p.spec.layer == layer]
            for sig, wait in (
                (signal.SIGINT, grace[0]),
                (signal.SIGTERM, grace[1]),
                (signal.SIGKILL, 1.0),
            ):
                alive = [p for p in group if p.popen.poll() is None]
                if not alive:
                    break
                for proc in alive:
                    try:
                        os.killpg(proc.popen.pid, sig)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and any(p.popen.poll() is None for p in alive):
                    time.sleep(0.02)
        for proc in self.running:
            if proc.reader:
                proc.reader.join(timeout=1.0)

    def supervise(
        self, until: Callable[[], bool] | None = None, status: Callable[[], str] | None = None
    ) -> int:
        """
        Wait until a stop signal, a required process exits, or ``until()`` is true.

        Then stop all.

        :returns: 0 after ``until()`` or a stop signal (the signal is in :attr:`stopped_by`);
            otherwise the exit code of the process that died (1 if it exited with 0 although it was
            required to keep running).
        """
        interrupted = threading.Event()

        def on_signal(signum: int, _frame: object) -> None:
            self.stopped_by = signal.Signals(signum)
            interrupted.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
        code = 0
        last_status = 0.0
        try:
            while not interrupted.is_set():
                # `until` first: a demo UI that exits 0 has finished, it has not died.
                if until is not None and until():
                    break
                dead = self.first_exit()
                if dead is not None:
                    rc = dead.popen.returncode
                    self.say('run', f'{dead.spec.name} exited with code {rc}; stopping the graph')
                    code = rc if rc not in (0, None) else 1
                    break
                if status is not None and time.monotonic() - last_status > self.status_period:
                    last_status = time.monotonic()
                    self.say('run', status())
                time.sleep(0.1)
            if interrupted.is_set():
                what = 'Ctrl-C' if self.stopped_by == signal.SIGINT else self.stopped_by.name
                self.say('run', f'{what}: stopping the graph')
        finally:
            try:
                # After a stop signal: quickly (the whole graph within 3 s). After a normal end
                # (the demo finished): time for the recorder to write its plot.
                self.stop() if interrupted.is_set() else self.stop(grace=CALM_GRACE)
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        return code
