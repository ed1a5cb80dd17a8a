"""
IPv6-only.

The graph and its gateway in one network namespace, the clients (roslibpy through the tablet's
link, and the tablet app) in another, joined by a veth pair that carries only IPv6 addresses. The
drag works, and no IPv4 socket carries the link.

Needs root and iproute2 (``ip netns``); skips, saying why, elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
from typing import Iterator

import pytest
from robot_touch.netns import exec_prefix, NetnsError, unavailable, veth_pair
from support.remote import moved, RemoteGraph, settle, TabletProcess
from support.waiting import wait_for

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
ADDR_A, ADDR_B = 'fd13::1', 'fd13::2'


@pytest.fixture(scope='module')
def netns() -> Iterator[tuple[str, str]]:
    reason = unavailable(tools=('ip', 'ss'), probe=False)
    if reason:
        pytest.skip(reason)
    tag = f'{os.getpid() % 100000}'
    try:
        with veth_pair('13', tag, (f'{ADDR_A}/64', f'{ADDR_B}/64')) as (a, b):
            yield a.netns, b.netns
    except NetnsError as exc:
        pytest.skip(f'cannot make network namespaces here: {exc}')


@pytest.fixture(scope='module')
def graph6(
    netns: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RemoteGraph]:
    a, _b = netns
    g = RemoteGraph(
        tmp_path_factory.mktemp('remote6'),
        f'rt_v6_{os.getpid()}',
        prefix=exec_prefix(a),
    )
    try:
        g.wait_up()
        yield g
    finally:
        g.stop()


CLIENT = """
import json, sys, time
from robot_touch.tablet.backend import RemoteBackend
b = RemoteBackend(sys.argv[1], sys.argv[2], sys.argv[3], take_control=True)
b.start()
deadline = time.monotonic() + 30
while time.monotonic() < deadline and not b.can_move():
    time.sleep(0.05)
print(json.dumps({"connected": b.can_move(), "state": str(b.link_state())}), flush=True)
b.call_enable(True)
time.sleep(0.5)
b.publish_joint_target({"shoulder_pan": 0.5})
sys.stdin.readline()  # held open while the test looks at the sockets
b.stop()
"""


def _tcp(ns: str, port: int) -> list[str]:
    out = subprocess.run(
        [*exec_prefix(ns), 'ss', '-Htn', 'state', 'established'],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    return [line for line in out.splitlines() if f':{port}' in line]


def test_over_an_ipv6_only_link(
    netns: tuple[str, str], graph6: RemoteGraph, tmp_path: Path
) -> None:
    a, b = netns
    url = f'wss://[{ADDR_A}]:{graph6.port}'
    env = {**os.environ, 'ROBOT_TOUCH_DATA': str(tmp_path / 'client')}
    client = subprocess.Popen(
        [
            *exec_prefix(b),
            sys.executable,
            '-c',
            CLIENT,
            url,
            graph6.token,
            graph6.fingerprint,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        first = json.loads(client.stdout.readline() or '{}')
        assert first.get('connected'), first
        wait_for(
            lambda: abs(graph6.true_joints()['shoulder_pan'] - 0.5) < 0.01,
            20,
            'the move over IPv6',
        )
        links_a, links_b = _tcp(a, graph6.port), _tcp(b, graph6.port)
        assert links_a and links_b, (links_a, links_b)
        for line in links_a + links_b:
            assert (
                ADDR_A in line and ADDR_B in line and '.' not in line.split()[-1].rsplit(':', 1)[0]
            ), line
        v4 = subprocess.run(
            [*exec_prefix(b), 'ss', '-H4tan'], capture_output=True, text=True, timeout=10
        ).stdout
        assert v4.strip() == '', v4
    finally:
        client.stdin.write('\n')
        client.stdin.flush()
        client.wait(15)

    if not shutil.which('Xvfb'):
        pytest.skip('Xvfb is not installed (make xvfb): the tablet app part needs it')
    from robot_touch.display import Xvfb

    settle(graph6)
    with Xvfb(size='1280x800') as xvfb:
        tablet = TabletProcess(
            url,
            graph6.token,
            graph6.fingerprint,
            xvfb.display,
            tmp_path,
            prefix=exec_prefix(b),
        )
        try:
            tablet.operating()
            before = graph6.true_joints()
            tablet.ask({'cmd': 'drag', 'view': 'top', 'dx': -40, 'dy': 40}, 'dragged')
            wait_for(lambda: moved(before, graph6.true_joints()) > 0.02, 15, 'the drag over IPv6')
            assert all(ADDR_A in line for line in _tcp(b, graph6.port))
        finally:
            tablet.close()
