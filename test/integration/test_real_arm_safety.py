"""
A real-arm run, with the virtual arm on a pty standing in for the arm.

Nothing moves that nobody asked for, and no process of the graph outlives the runner.

Ground truth is the virtual arm's servos read with the vendor's own SDK (feetech-servo-sdk),
not our code. Each test starts the runner as a user would (`python -m robot_touch.cli.main
run ...`, no display, stdin not a terminal) and finds every process of its graph by a marker
in their environment, which every child inherits, so a child that reparents to PID 1 after
the runner died is still found.
"""

from __future__ import annotations

from pathlib import Path
import signal
import subprocess
import sys
import time
import uuid

import pytest
from support.graph_run import (
    graph_processes,
    graph_up,
    kill_leftovers,
    run_log,
    start_run,
)
from support.waiting import wait_for, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]


class FeetechReader:
    """Present positions of the virtual arm's servos, read with feetech-servo-sdk itself."""

    PRESENT_POSITION = 56  # STS3215 memory table (Feetech's manual), 2 bytes

    def __init__(self, port: str, ids: list[int]) -> None:
        import scservo_sdk as sdk

        self.sdk = sdk
        self.port, self.ids = port, ids

    def positions(self) -> dict[int, int]:
        sdk = self.sdk
        handler = sdk.PortHandler(self.port)
        assert handler.openPort() and handler.setBaudRate(1_000_000), f'cannot open {self.port}'
        try:
            packets = sdk.PacketHandler(0)
            out = {}
            for servo_id in self.ids:
                value, result, _error = packets.read2ByteTxRx(
                    handler, servo_id, self.PRESENT_POSITION
                )
                assert result == sdk.COMM_SUCCESS, (
                    f'servo {servo_id}: {packets.getTxRxResult(result)}'
                )
                out[servo_id] = value
            return out
        finally:
            handler.closePort()


@pytest.fixture
def virtual_arm(tmp_path: Path):
    """Provide the SO-101's virtual arm on a pty, as `robot-touch virtual-arm --link` starts it."""
    link = tmp_path / 'arm.tty'
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'robot_touch.cli.main',
            'virtual-arm',
            '--arm',
            'so101',
            '--link',
            str(link),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith('PORT '), 'the virtual arm did not start'
        yield str(link)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.timeout(120)
def test_headless_serial_run_does_not_move_the_arm(tmp_path: Path, virtual_arm: str) -> None:
    """README step 4 over ssh: `robot-touch run --backend serial --port PORT`, no display."""
    servos = FeetechReader(virtual_arm, [1, 2, 3, 4, 5, 6])
    before = servos.positions()
    token = uuid.uuid4().hex
    run = start_run(tmp_path, token, '--backend', 'serial', '--port', virtual_arm)
    try:
        wait_for(lambda: graph_up(run), 60, 'the bridge connected and teleop running')
        assert run.poll() is None, run_log(run)[-3000:]
        time.sleep(5.0)  # on main the demo had moved the arm ~100 mm by then
        assert '[touch_ui]' not in run_log(run), 'no UI is started: there is no display'
        run.send_signal(signal.SIGINT)  # Ctrl-C
        code = run.wait(20)
        assert wait_until(lambda: not graph_processes(token), 3.0), (
            'every graph process ends within 3 s'
        )
    finally:
        kill_leftovers(token)
        if run.poll() is None:
            run.kill()
    log = run_log(run)
    assert code == 0, log[-3000:]
    assert 'running the built-in demo' not in log
    assert 'holds still until you command it' in log
    after = servos.positions()
    moved = {i: abs(after[i] - before[i]) for i in before}
    # A still servo reads back its own position; 2 steps (0.2°) is the emulator's read noise.
    assert max(moved.values()) <= 2, f'servo steps moved per id: {moved}\n{log[-3000:]}'


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    'sig', [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=['SIGTERM', 'SIGHUP', 'SIGKILL']
)
def test_no_graph_process_outlives_the_runner(tmp_path: Path, sig: signal.Signals) -> None:
    token = uuid.uuid4().hex
    run = start_run(tmp_path, token, '--no-ui', '--namespace', f'sig_{token[:6]}')
    try:
        wait_for(lambda: graph_up(run), 60, 'the graph')
        assert run.poll() is None, run_log(run)[-3000:]
        children = graph_processes(token)
        assert len(children) >= 4, 'runner, virtual arm, bridge and teleop are up'
        run.send_signal(sig)
        gone = wait_until(lambda: not graph_processes(token), 3.0)
        left = {
            pid: Path(f'/proc/{pid}/cmdline').read_bytes()[60:200]
            for pid in graph_processes(token)
            if Path(f'/proc/{pid}').exists()
        }
        assert gone, f'left running 3 s after {sig.name}: {left}\n{run_log(run)[-2000:]}'
        if sig != signal.SIGKILL:
            # The runner's own stop goes in dependency order: the bridge holds the arm, then
            # the virtual arm goes; the bridge never sees its port vanish.
            log = run_log(run)
            assert 'stopped: 6 servos hold their measured position; torque stays on' in log, log[
                -2000:
            ]
            assert 'port lost' not in log and '[ERROR]' not in log, log[-2000:]
    finally:
        kill_leftovers(token)
        if run.poll() is None:
            run.kill()
        run.wait(10)
