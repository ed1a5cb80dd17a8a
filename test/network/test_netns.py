"""robot_touch.netns, the one helper the network and remote tiers and `bench remote` share."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from robot_touch.netns import exec_prefix, NetnsError, unavailable, veth_pair

pytestmark = pytest.mark.timeout(60)


SERVER = """
import socket, sys
with socket.create_server((sys.argv[1], 0), family=socket.AF_INET6 if ':' in sys.argv[1]
                          else socket.AF_INET) as s:
    print(s.getsockname()[1], flush=True)
    conn, peer = s.accept()
    print(conn.recv(100).decode(), 'from', peer[0], flush=True)
"""
CLIENT = """
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10) as c:
    c.sendall(b'hello')
"""


def _namespaces() -> set[str]:
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, timeout=10)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


@pytest.fixture
def tag() -> str:
    """Provide a tag unique to this test, or skip where namespaces cannot be made."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    return uuid.uuid4().hex[:6]


@pytest.mark.parametrize(
    'addresses', [('10.214.7.1/24', '10.214.7.2/24'), ('fd14::1/64', 'fd14::2/64')]
)
def test_a_veth_pair_joins_two_namespaces_and_leaves_nothing_behind(
    tag: str, addresses: tuple[str, str]
) -> None:
    """Check that each end has its address, reaches the other, and is gone after the block."""
    with veth_pair('t', tag, addresses) as (a, b):
        assert (a.address, b.address) == tuple(addr.split('/')[0] for addr in addresses)
        assert {a.netns, b.netns} <= _namespaces()
        shown = subprocess.run(
            [*exec_prefix(b.netns), 'ip', '-o', 'addr', 'show', 'dev', b.dev],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        assert addresses[1] in shown, shown
        # A TCP connection from a to b: the link carries traffic.
        server = subprocess.Popen(
            [*b.exec_prefix(), sys.executable, '-c', SERVER, b.address],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            port = int(server.stdout.readline())
            client = subprocess.run(
                [*a.exec_prefix(), sys.executable, '-c', CLIENT, b.address, str(port)],
                capture_output=True,
                text=True,
                timeout=20,
            )
            assert client.returncode == 0, client.stderr
            assert server.stdout.readline().strip() == f'hello from {a.address}'
        finally:
            server.kill()
            server.wait(10)
    assert not {a.netns, b.netns} & _namespaces()


def test_a_failed_command_says_which_and_removes_only_what_it_made(tag: str) -> None:
    """Check that a clash raises NetnsError naming the command; only its own namespaces go."""
    taken = f'rttb{tag}'  # b's name, made by someone else
    subprocess.run(['ip', 'netns', 'add', taken], check=True, timeout=10)
    try:
        with pytest.raises(NetnsError, match=f'ip netns add {taken}'):
            with veth_pair('t', tag, ('10.214.8.1/24', '10.214.8.2/24')):
                pass  # pragma: no cover - never reached
        assert f'rtta{tag}' not in _namespaces()
        assert taken in _namespaces()
    finally:
        subprocess.run(['ip', 'netns', 'del', taken], timeout=10)
