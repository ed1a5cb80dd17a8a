"""
The gateway's WebSocket server (the ``websockets`` library, asyncio).

It serves a :class:`~robot_touch.gateway.core.GatewayCore`.

* Listens where it is told: ``::`` by default as one dual-stack socket (IPv6 and IPv4-mapped
  IPv4; asyncio's own ``create_server`` would set IPV6_V6ONLY), or one given address.
* TLS when given a context (the default of the node); plain ``ws://`` only when the caller
  chose it.
* Incoming frames larger than the cap close the connection (1009, by ``websockets``'
  ``max_size``); outgoing frames wait in a bounded queue per client, oldest dropped first, so a
  slow client never grows the gateway's memory or delays the others.
* Pings every client: the lease holder every 0.1 s, others every second. Every pong tells
  the core the client is alive; a holder that stays silent loses the lease (core). A client
  silent for ``idle_close`` seconds is closed.

Everything runs on one asyncio loop; the core is only touched on that loop.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
import socket
import ssl
import time
from typing import Any, Callable

from robot_touch.gateway.core import GatewayCore
from robot_touch.gateway.frames import CLOSE_BUSY

HOLDER_PING = 0.1
VIEWER_PING = 1.0


def listening_socket(bind: str, port: int) -> socket.socket:
    """
    Return a listening TCP socket on ``bind``.

    ``::`` is dual-stack; an IPv4 or IPv6 literal (or a host name, first address) binds that
    address only.
    """
    if bind in ('::', ''):
        if socket.has_dualstack_ipv6():
            return socket.create_server(
                ('::', port), family=socket.AF_INET6, dualstack_ipv6=True, reuse_port=False
            )
        return socket.create_server(('0.0.0.0', port))
    infos = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM)
    if not infos:  # pragma: no cover - getaddrinfo raises instead
        raise OSError(f'cannot resolve {bind}')
    family, _type, _proto, _name, address = infos[0]
    return socket.create_server(
        address[:2] if family == socket.AF_INET else address, family=family
    )


@dataclass
class _Client:
    ws: Any
    queue: deque
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    heard: float = 0.0
    dropped: int = 0


class GatewayServer:
    """
    Serves one :class:`GatewayCore`.

    :param make_core: builds the core from the ``send`` and ``close`` callbacks.
    :param bind, port: where to listen (port 0: any free port; see :attr:`port` after start).:
    :param ssl_context: TLS server context, or None for plain ws.
    :param max_frame_bytes, out_queue: caps (see :class:`~robot_touch.gateway.policy.Caps`).:
    :param idle_close: seconds of silence after which a client is closed.
    """

    def __init__(
        self,
        make_core: Callable[
            [Callable[[int, str], None], Callable[[int, int, str], None]], GatewayCore
        ],
        bind: str = '::',
        port: int = 9090,
        ssl_context: ssl.SSLContext | None = None,
        max_frame_bytes: int = 65536,
        out_queue: int = 256,
        idle_close: float = 20.0,
    ) -> None:
        self.core = make_core(self._send, self._close)
        self.bind, self.port = bind, port
        self.ssl_context = ssl_context
        self.max_frame_bytes = max_frame_bytes
        self.out_queue = out_queue
        self.idle_close = idle_close
        self.clients: dict[int, _Client] = {}
        self.oversized = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._server: Any = None
        self.sockets: list[socket.socket] = []

    # ------------------------------------------------------------------ core callbacks

    def _send(self, cid: int, text: str) -> None:
        client = self.clients.get(cid)
        if client is None:
            return
        if len(client.queue) == client.queue.maxlen:
            client.dropped += 1  # the deque drops the oldest
        client.queue.append(text)
        client.ready.set()

    def _close(self, cid: int, code: int, reason: str) -> None:
        client = self.clients.get(cid)
        if client is not None:
            # After the queued refusal has gone out.
            client.queue.append(_CloseMarker(code, reason))
            client.ready.set()

    # ------------------------------------------------------------------ running

    async def start(self) -> None:
        """Listen (returns once the socket is bound)."""
        from websockets.asyncio.server import serve

        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        sock = listening_socket(self.bind, self.port)
        self._server = await serve(
            self._handle,
            sock=sock,
            ssl=self.ssl_context,
            max_size=self.max_frame_bytes,
            ping_interval=None,  # our own pings (faster for the lease holder)
            compression=None,  # small frames; no deflate CPU or decompression surprises
            max_queue=16,
            open_timeout=10,
        )
        self.sockets = list(self._server.sockets)
        self.port = self.sockets[0].getsockname()[1]
        asyncio.ensure_future(self._ticker())

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def wake(self) -> None:
        """Run a tick soon (called on the loop after something happened)."""
        if self._wake is not None:
            self._wake.set()

    async def _ticker(self) -> None:
        assert self._wake is not None
        while True:
            wait = self.core.tick(time.monotonic())
            now = time.monotonic()
            for cid, client in list(self.clients.items()):
                if now - client.heard > self.idle_close:
                    self._close(cid, 1001, 'silent')
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.001, wait))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def _handle(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        now = time.monotonic()
        peer = ws.remote_address[0] if ws.remote_address else '?'
        cid = self.core.opened(peer, now)
        if cid is None:
            await ws.send(self.core.busy_text())
            await ws.close(CLOSE_BUSY, 'too many clients')
            return
        client = _Client(ws, deque(maxlen=self.out_queue), heard=now)
        self.clients[cid] = client
        sender = asyncio.ensure_future(self._sender(cid, client))
        pinger = asyncio.ensure_future(self._pinger(cid, client))
        try:
            async for frame in ws:
                now = time.monotonic()
                client.heard = now
                self.core.receive(cid, frame, now)
        except ConnectionClosed as exc:
            if exc.rcvd is None and exc.sent is not None and exc.sent.code == 1009:
                self.oversized += 1
        finally:
            self.clients.pop(cid, None)
            sender.cancel()
            pinger.cancel()
            self.core.closed(cid, time.monotonic())
            self.wake()

    async def _sender(self, cid: int, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await client.ready.wait()
                client.ready.clear()
                while client.queue:
                    item = client.queue.popleft()
                    if isinstance(item, _CloseMarker):
                        await client.ws.close(item.code, item.reason)
                        return
                    await client.ws.send(item)
        except ConnectionClosed:
            pass

    async def _pinger(self, cid: int, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        def pong(_future: Any) -> None:
            now = time.monotonic()
            client.heard = now
            self.core.heard(cid, now)

        last = -1e18
        try:
            while True:
                # Checked every holder period, so a client that just took control is pinged
                # at the holder's pace at once.
                interval = HOLDER_PING if self.core.lease.holds(cid) else VIEWER_PING
                if time.monotonic() - last >= interval:
                    last = time.monotonic()
                    waiter = await client.ws.ping()
                    waiter.add_done_callback(pong)
                await asyncio.sleep(HOLDER_PING)
        except ConnectionClosed:
            pass


@dataclass(frozen=True)
class _CloseMarker:
    code: int
    reason: str
