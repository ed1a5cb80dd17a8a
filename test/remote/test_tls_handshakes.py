"""
The gateway's TLS context answers every handshake of a threaded client.

The `websockets` sync client reads its socket in one thread while it writes the HTTP upgrade
in another, on one OpenSSL object. With TLS 1.3 session tickets in flight at that moment,
1 in 12-30 handshakes lost the upgrade request and the client gave up after its open timeout
("timed out while waiting for handshake response"). The gateway sends no tickets; this runs
the handshakes a tablet's reconnects would, against a server on the gateway's own context.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import ssl
import threading
from typing import Iterator

import pytest
from robot_touch.gateway.tls import ensure_identity

HANDSHAKES = 200


@pytest.fixture()
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Provide a WebSocket echo server on [::1] with the gateway's server context: (port, cert)."""
    from websockets.asyncio.server import serve

    identity = ensure_identity(tmp_path / 'tls')
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    port: list[int] = []

    async def echo(ws) -> None:
        async for frame in ws:
            await ws.send(frame)

    async def main() -> None:
        async with serve(echo, '::1', 0, ssl=identity.server_context()) as server:
            port.append(server.sockets[0].getsockname()[1])
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), 'the TLS server did not start'
    try:
        yield port[0], identity.cert_path
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_the_server_context_sends_no_session_tickets(tmp_path: Path) -> None:
    assert ensure_identity(tmp_path / 'tls').server_context().num_tickets == 0


def test_every_handshake_of_a_threaded_tls13_client_is_answered(tls_server) -> None:
    from websockets.sync.client import connect

    port, cert = tls_server
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(cert))
    context.check_hostname = False
    context.minimum_version = ssl.TLSVersion.TLSv1_3  # the version the tickets came with
    for attempt in range(HANDSHAKES):
        # What the user would see otherwise: TimeoutError("timed out while waiting for
        # handshake response") after open_timeout.
        with connect(f'wss://[::1]:{port}', ssl=context, open_timeout=5) as ws:
            ws.send(f'hello {attempt}')
            assert ws.recv(timeout=5) == f'hello {attempt}'
