"""
Operator commands without the ROS CLI, against a running headless graph (virtual arm).

`robot-touch status | estop | home | release | disable | enable`, each a real process, the teleop's
own answers and refusals included.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid

import pytest
from robot_touch.graph import apply_environment, dds_environment
from support.graph_run import (
    foreign_commander,
    graph_up,
    headless_env,
    kill_leftovers,
    run_log,
    start_run,
)
from support.waiting import wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def cli(tmp, token: str, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-m', 'robot_touch.cli.main', *argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=headless_env(tmp, token),
        timeout=60,
    )


@pytest.mark.timeout(180)
def test_an_operator_stops_releases_and_homes_a_headless_arm(tmp_path) -> None:
    token = uuid.uuid4().hex
    ns = f'op_{token[:6]}'
    run = start_run(tmp_path, token, '--no-ui', '--namespace', ns)
    try:
        wait_for(lambda: graph_up(run), 60, 'the graph')
        ok = cli(tmp_path, token, 'status', '--namespace', ns)
        assert ok.returncode == 0, ok.stderr
        assert (
            'teleop ok, enabled' in ok.stdout
            and 'joint_states' in ok.stdout
            and 'E-STOP' not in ok.stdout
        )

        stop = cli(tmp_path, token, 'estop', '--namespace', ns)
        assert stop.returncode == 0 and stop.stdout.startswith('e-stop latched'), (
            stop.stdout + stop.stderr
        )
        assert 'E-STOP latched' in cli(tmp_path, token, 'status', '--namespace', ns).stdout

        home = cli(tmp_path, token, 'home', '--namespace', ns)
        assert home.returncode == 1, 'Home while e-stopped is refused'
        assert home.stdout.startswith('refused: not homing: e-stop latched'), home.stdout

        release = cli(tmp_path, token, 'release', '--namespace', ns)
        assert release.returncode == 0, release.stdout + release.stderr
        for command in ('disable', 'enable', 'home'):
            done = cli(tmp_path, token, command, '--namespace', ns)
            assert done.returncode == 0, f'{command}: {done.stdout} {done.stderr}'
        # A second commander appears: the status line leads with the conflict.
        env = apply_environment(headless_env(tmp_path, token), dds_environment('local'))
        intruder = foreign_commander(ns, env)
        try:
            seen = cli(tmp_path, token, 'status', '--namespace', ns).stdout
        finally:
            intruder.kill()
            intruder.wait(10)
        assert seen.startswith(
            f'CONFLICT: 2 nodes command the arm (/{ns}/some_commander, /{ns}/teleop)'
        ), seen
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(20)
        kill_leftovers(token)
    assert run.returncode == 0, run_log(run)[-2000:]


@pytest.mark.timeout(60)
def test_no_graph_answers_in_one_line(tmp_path) -> None:
    out = cli(
        tmp_path,
        uuid.uuid4().hex,
        'estop',
        '--namespace',
        f'nobody_{uuid.uuid4().hex[:6]}',
        '--timeout',
        '1',
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith(
        'robot-touch estop: error: no teleop (teleop/estop) answered within 1 s'
    )
    assert len(out.stderr.strip().splitlines()) == 1


@pytest.mark.timeout(120)
def test_the_status_says_the_bridge_cannot_open_its_port(tmp_path) -> None:
    """A real-arm run whose adapter is not plugged in: not just "teleop ok"."""
    token = uuid.uuid4().hex
    ns = f'noport_{token[:6]}'
    port = str(tmp_path / 'ttyUSB_missing')
    run = start_run(tmp_path, token, '--backend', 'serial', '--port', port, '--namespace', ns)
    try:
        wait_for(lambda: 'teleop for' in run_log(run) or run.poll() is not None, 60, 'teleop')
        status = cli(tmp_path, token, 'status', '--namespace', ns)
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(20)
        kill_leftovers(token)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f'bridge ERROR: port {port} cannot be opened'), status.stdout
    assert 'retrying' in status.stdout and 'no joint_states yet' in status.stdout
