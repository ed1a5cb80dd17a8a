"""
By default nothing outside this host reaches the arm's graph (#9 item 12).

* Every UDP socket of every process of a default run is bound to loopback (``ss -lunp``).
* From a second network namespace joined by a veth pair (another host on the LAN), a peer
  that knows the robot's address (ROS_STATIC_PEERS) and uses subnet discovery sees no node,
  no topic and no service of a default run; the same peer does see a ``--network lan`` run
  (the control that shows the test can see at all).

Network namespaces need root and `ip`; those tests skip with the reason where unavailable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import uuid

import pytest
from robot_touch.netns import exec_prefix, unavailable, veth_pair
from support.graph_run import graph_processes, graph_up, headless_env, kill_leftovers, run_log
from support.waiting import wait_for

HERE = Path(__file__).resolve().parent

pytestmark = [pytest.mark.ros, pytest.mark.slow]

#: lists what a ROS 2 participant on the peer host discovers within a few seconds
PEER_PROBE = r"""
import json, sys, time
import rclpy
rclpy.init()
node = rclpy.create_node("lan_peer")
deadline = time.monotonic() + float(sys.argv[1])
seen = {"nodes": [], "topics": [], "services": []}
while time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.2)
    nodes = node.get_node_names_and_namespaces()
    topics = node.get_topic_names_and_types()
    services = node.get_service_names_and_types()
    seen = {
        "nodes": sorted(f"{ns.rstrip('/')}/{n}" for n, ns in nodes if n != "lan_peer"),
        "topics": sorted(t for t, _ in topics if t not in ("/rosout", "/parameter_events")),
        "services": sorted(s for s, _ in services if "lan_peer" not in s),
    }
    teleop = f"/{sys.argv[2]}/teleop"
    if teleop in seen["nodes"] and f"{teleop}/estop" in seen["services"]:
        break
print(json.dumps(seen), flush=True)
"""


def udp_sockets(pids: list[int], netns: str | None = None) -> list[tuple[str, int]]:
    """(local address, pid) of every UDP socket the processes hold, from `ss -lunpH`."""
    argv = ['ss', '-lunpH']
    if netns:
        argv = [*exec_prefix(netns), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        for pid in map(int, re.findall(r'pid=(\d+)', line)):
            if pid in pids:
                found.append((fields[3], pid))
    return found


def start(
    tmp_path: Path, token: str, namespace: str, *args: str, netns: str | None = None
) -> subprocess.Popen:
    log = open(tmp_path / f'run_{token[:8]}.log', 'w+')  # closed with the process
    argv = [
        sys.executable,
        '-m',
        'robot_touch.cli.main',
        'run',
        '--no-ui',
        '--namespace',
        namespace,
        *args,
    ]
    if netns:
        argv = [*exec_prefix(netns), *argv]
    env = headless_env(tmp_path, token)
    for var in (
        'FASTDDS_DEFAULT_PROFILES_FILE',
        'ROS_AUTOMATIC_DISCOVERY_RANGE',
        'ROS_STATIC_PEERS',
    ):
        env.pop(var, None)  # a user's default environment: nothing set
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    proc.log = log  # type: ignore[attr-defined]
    return proc


def stop(run: subprocess.Popen, token: str) -> None:
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
        try:
            run.wait(20)
        except subprocess.TimeoutExpired:
            run.kill()
    kill_leftovers(token)


@pytest.mark.timeout(120)
def test_every_socket_of_a_default_run_is_on_loopback(tmp_path: Path) -> None:
    if not shutil.which('ss'):
        pytest.skip('`ss` (iproute2) is not installed')
    token = uuid.uuid4().hex
    run = start(tmp_path, token, f'ss_{token[:6]}')
    try:
        wait_for(lambda: graph_up(run), 60, 'the graph')
        pids = graph_processes(token)
        sockets = udp_sockets(pids)
    finally:
        stop(run, token)
    assert len({pid for _a, pid in sockets}) >= 3, (
        f'runner, bridge and teleop hold DDS sockets: {sockets}'
    )
    exposed = [(addr, pid) for addr, pid in sockets if not addr.startswith('127.')]
    assert not exposed, f'sockets reachable from other hosts: {exposed}\n{run_log(run)[-1500:]}'


@pytest.fixture
def two_hosts():
    """Two network namespaces on one veth link: the robot 10.213.x.1, a peer 10.213.x.2."""
    reason = unavailable(tools=('ip', 'ss'))
    if reason:
        pytest.skip(reason)
    tag = uuid.uuid4().hex[:6]
    subnet = f'10.213.{int(tag[:2], 16)}'
    with veth_pair('9', tag, (f'{subnet}.1/24', f'{subnet}.2/24'), multicast=True) as pair:
        robot, peer = pair
        yield robot.netns, peer.netns, robot.address


def peer_sees(peer: str, robot_address: str, namespace: str, seconds: float) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(('FASTDDS_', 'ROS_AUTOMATIC', 'ROS_STATIC'))
    }
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE='SUBNET', ROS_STATIC_PEERS=robot_address)
    out = subprocess.run(
        [*exec_prefix(peer), sys.executable, '-c', PEER_PROBE, str(seconds), namespace],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(240)
def test_a_second_host_sees_nothing_of_a_default_run_and_everything_of_a_lan_run(
    two_hosts, tmp_path: Path
) -> None:
    robot, peer, address = two_hosts
    results = {}
    for network in ('local', 'lan'):
        token = uuid.uuid4().hex
        namespace = f'{network}_{token[:6]}'
        run = start(tmp_path, token, namespace, '--network', network, netns=robot)
        try:
            wait_for(lambda: graph_up(run), 90, f'the {network} graph')
            assert run.poll() is None, run_log(run)[-2000:]
            sockets = udp_sockets(graph_processes(token), netns=robot)
            results[network] = (
                peer_sees(peer, address, namespace, 8.0 if network == 'local' else 20.0),
                sockets,
            )
        finally:
            stop(run, token)
        if network == 'lan':
            assert (
                "WARNING: network lan: this arm's ROS graph is reachable from the network"
                in run_log(run)
            )
    seen, sockets = results['local']
    assert not [a for a, _pid in sockets if not a.startswith('127.')], (
        f'non-loopback sockets: {sockets}'
    )
    graph = [name for kind in seen.values() for name in kind if 'local_' in name]
    assert graph == [], f'a peer on the LAN saw the default run: {seen}'
    seen_lan, _ = results['lan']
    assert any(n.endswith('/teleop') for n in seen_lan['nodes']), (
        f'the control run was not seen: {seen_lan}'
    )
    assert any(s.endswith('/teleop/estop') for s in seen_lan['services']), seen_lan
