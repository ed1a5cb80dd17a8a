"""
One arm, one owner, across real processes.

With one graph running on the virtual arm, a second `robot-touch run`, a second teleop and a second
bridge on the same port are each refused with one line and a non-zero exit, and the first graph
keeps its arm to itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest
from robot_touch.graph import apply_environment, dds_environment, default_virtual_link
from support.graph_run import (
    foreign_commander,
    graph_up,
    headless_env,
    kill_leftovers,
    run_log,
    start_run,
)
from support.processes import spawn_node, terminate
from support.waiting import wait_for, wait_until

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope='module')
def first_run(tmp_path_factory: pytest.TempPathFactory):
    """One headless graph (virtual arm, bridge, teleop) in a namespace of its own."""
    tmp = tmp_path_factory.mktemp('owner')
    token = uuid.uuid4().hex
    namespace = f'owner_{token[:6]}'
    run = start_run(tmp, token, '--no-ui', '--namespace', namespace)
    try:
        wait_for(lambda: graph_up(run), 60, 'the first graph')
        assert run.poll() is None, run_log(run)[-3000:]
        yield run, tmp, namespace
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(20)
        kill_leftovers(token)


@pytest.mark.timeout(90)
def test_a_second_run_on_the_same_arm_is_refused_in_one_line(first_run) -> None:
    run, tmp, namespace = first_run
    token = uuid.uuid4().hex
    second = subprocess.run(
        [sys.executable, '-m', 'robot_touch.cli.main', 'run', '--no-ui', '--namespace', namespace],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=headless_env(tmp, token),
        timeout=60,
    )
    kill_leftovers(token)
    assert second.returncode != 0
    lines = (second.stdout + second.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "robot-touch run: error: this arm's graph is already running (ROS_DOMAIN_ID "
    )
    assert (
        f'namespace /{namespace}: /{namespace}/' in lines[0]
        and 'one arm has one owner' in lines[0]
    )
    assert run.poll() is None, 'the first run is untouched'


@pytest.mark.timeout(90)
def test_a_second_teleop_refuses_to_command_the_arm(first_run) -> None:
    run, _tmp, namespace = first_run
    teleop = spawn_node('robot_touch.nodes.teleop', 'teleop_two', namespace=namespace)
    code = wait_until(lambda: teleop.poll() is not None, 30) and teleop.returncode
    log = terminate(teleop)
    assert code == 2, log
    errors = [line for line in log.splitlines() if 'error' in line]
    assert len(errors) == 1 and errors[0].startswith(
        'teleop: error: another teleop already commands this arm'
    ), log
    assert 'one arm has one commander' in errors[0]
    assert run.poll() is None


@pytest.mark.timeout(90)
def test_teleop_refuses_when_any_node_already_commands_the_arm(first_run) -> None:
    """
    Not our teleop (no lock to find).

    A node publishing the command topic, seen over DDS, both with the graph's DDS environment as
    `robot-touch run` gives it.
    """
    _run, _tmp, namespace = first_run
    other_ns = f'{namespace}_c'
    env = apply_environment(dict(os.environ), dds_environment('local'))
    commander = foreign_commander(other_ns, env)
    try:
        teleop = spawn_node('robot_touch.nodes.teleop', 'teleop', namespace=other_ns, env=env)
        code = wait_until(lambda: teleop.poll() is not None, 30) and teleop.returncode
        log = terminate(teleop)
    finally:
        commander.kill()
        commander.wait(10)
    assert code == 2, log
    assert (
        f'teleop: error: /{other_ns}/some_commander already commands this arm '
        f'(/{other_ns}/forward_position_controller/commands): '
        'one arm has one commander' in log
    ), log


@pytest.mark.timeout(90)
def test_a_second_bridge_cannot_open_the_arms_port(first_run) -> None:
    run, _tmp, namespace = first_run
    port = default_virtual_link(namespace)
    bridge = spawn_node(
        'robot_touch.nodes.serial_bridge',
        'serial_bridge',
        {'port': port},
        namespace=f'{namespace}_b',
    )
    code = wait_until(lambda: bridge.poll() is not None, 30) and bridge.returncode
    log = terminate(bridge)
    assert code == 2, log
    assert f"serial_bridge: error: serial port '{port}' is in use by another process" in log
    assert run.poll() is None
