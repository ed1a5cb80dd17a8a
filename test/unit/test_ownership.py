"""One arm, one owner: the decisions (pure) and the locks that enforce them (a real pty)."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys

import pytest
from robot_touch.graph import default_virtual_link, describe, GraphConfig
from robot_touch.ownership import conflicts, full_name, GraphSnapshot, running_graph
from robot_touch.protocols.registry import open_port, PortBusy
from robot_touch.run_monitor import GraphHealth


def test_one_commander_and_one_state_publisher_is_no_conflict() -> None:
    snap = GraphSnapshot(
        '',
        {'forward_position_controller/commands': ['/teleop'], 'joint_states': ['/serial_bridge']},
    )
    assert conflicts(snap) == []


def test_two_commanders_or_two_arms_are_conflicts_named_by_node() -> None:
    snap = GraphSnapshot(
        'arm1',
        {
            'forward_position_controller/commands': ['/arm1/teleop'],
            'arm_controller/joint_trajectory': ['/arm1/other'],
            'joint_states': ['/arm1/serial_bridge', '/arm1/serial_bridge'],
        },
    )
    assert conflicts(snap) == [
        '2 nodes command the arm (/arm1/other, /arm1/teleop)',
        '2 nodes publish joint_states (/arm1/serial_bridge, /arm1/serial_bridge)',
    ]


def test_the_status_line_leads_with_a_conflict() -> None:
    health = GraphHealth()
    health.set_conflicts(['2 nodes command the arm (/teleop, /teleop)'])
    assert health.summary(1.0).startswith(
        'CONFLICT: 2 nodes command the arm (/teleop, /teleop) · '
    )


def test_a_running_graph_is_recognised_by_its_nodes() -> None:
    snap = GraphSnapshot('arm1', nodes=['teleop', 'run_monitor', 'serial_bridge'])
    assert running_graph(snap) == ['/arm1/teleop', '/arm1/serial_bridge']
    assert full_name('arm1/', 'teleop') == '/arm1/teleop' and full_name('', 'teleop') == '/teleop'


def test_the_virtual_link_is_named_by_domain_and_namespace() -> None:
    a = default_virtual_link('arm1', domain_id='11')
    assert (
        a
        != default_virtual_link('arm1', domain_id='12')
        != default_virtual_link('arm2', domain_id='11')
    )
    assert 'd11' in a and 'arm1' in a
    bridge = next(s for s in describe(GraphConfig(namespace='arm1')) if s.name == 'serial_bridge')
    assert bridge.parameters['port'] == default_virtual_link('arm1')


def test_a_serial_port_has_one_owner() -> None:
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        first = open_port(path, 1_000_000)
        try:
            with pytest.raises(PortBusy, match='in use by another process'):
                open_port(path, 1_000_000)
        finally:
            first.close()
        open_port(path, 1_000_000).close()  # free again once the owner closed it
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.timeout(60)
def test_a_second_virtual_arm_on_the_same_link_is_refused_in_one_line(tmp_path: Path) -> None:
    link = str(tmp_path / 'arm.tty')
    argv = [
        sys.executable,
        '-m',
        'robot_touch.cli.main',
        'virtual-arm',
        '--arm',
        'so101',
        '--link',
        link,
    ]
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().startswith('PORT ')
        second = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert second.returncode == 2
        assert second.stderr.strip().splitlines() == [
            'robot-touch virtual-arm: error: '
            f'another virtual arm already serves {link}: one arm has one owner'
        ]
        assert os.readlink(link) != '' and first.poll() is None
    finally:
        first.terminate()
        first.wait(10)
