"""
roslibpy over its asyncio transport, with the gateway's certificate pinned.

The one adapter that reaches into roslibpy's internals (DEVGUIDE: private APIs in one adapter
only).

Why an adapter: roslibpy 2.1's asyncio transport builds its TLS context with
``ssl.create_default_context()``, which trusts only CA-signed certificates, and ``Ros`` picks
its transport factory by name. Our gateway's certificate is self-signed and pinned by its
SHA-256 fingerprint instead. So this module:

* subclasses the asyncio factory to connect with a context that does not ask a CA
  (``_connect_async``, private), and its protocol to compare the server certificate's
  fingerprint with the pin the moment TLS is up, before a single WebSocket byte goes out
  (``connection_made``, asyncio's public protocol API); a mismatch aborts the connection and
  says so (``refused`` event);
* sends the ``auth`` op first on every (re)connection, before anything roslibpy queued;
* says why a connection attempt failed (``unreachable``: no answer; ``refused``: wrong
  certificate);
* hands rosbridge ``status`` messages to a ``status`` event (roslibpy 2.1 has no handler for
  them and logs an exception instead);
* builds a :class:`roslibpy.Ros` on that factory (``Ros.__init__`` would pick the stock one).

Everything else is roslibpy's public API (``Ros.on``, ``send_on_ready``,
``call_async_service``). No rclpy.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from robot_touch.gateway.auth import auth_request
from robot_touch.gateway.tls import fingerprint_of, normalise_fingerprint
import roslibpy
from roslibpy.comm.comm_asyncio import AsyncioRosBridgeClientFactory, AsyncioRosBridgeProtocol

LOG = logging.getLogger('robot_touch.tablet')


class PinnedProtocol(AsyncioRosBridgeProtocol):
    """Checks the pin when TLS is up, authenticates first, routes status messages."""

    rejected = False

    def connection_made(self, transport: Any) -> None:
        factory = self.factory
        if factory.pin is not None:
            ssl_object = transport.get_extra_info('ssl_object')
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            seen = fingerprint_of(der) if der else 'none (no TLS)'
            if seen != factory.pin:
                self.rejected = True
                factory.emit(
                    'refused',
                    f'certificate fingerprint {seen} does not match the pairing {factory.pin}',
                )
                transport.abort()
                return
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.rejected:
            self.factory.retry_later()
            return
        super().connection_lost(exc)

    def onOpen(self) -> None:  # autobahn's name
        credentials = self.factory.credentials
        if credentials is not None:
            self.send_ros_message(roslibpy.Message(credentials()))
        super().onOpen()

    def on_message(self, payload: bytes) -> None:
        if b'"status"' in payload[:64]:
            message = json.loads(payload.decode('utf8'))
            if message.get('op') == 'status':
                self.factory.emit('status', message)
                return
        super().on_message(payload)


class PinnedFactory(AsyncioRosBridgeClientFactory):
    """roslibpy's asyncio factory with a pinned certificate and quick reconnects."""

    protocol = PinnedProtocol
    initialDelay = 0.5  # roslibpy's names
    maxDelay = 5.0
    factor = 1.6

    def __init__(self, url: str, pin: str | None, credentials: Callable[[], dict] | None) -> None:
        super().__init__(url)
        self.pin = normalise_fingerprint(pin) if pin else None
        self.credentials = credentials

    def give_up(self) -> None:
        """Stop reconnecting (a link that is being replaced or closed)."""
        self._stop = True

    def retry_later(self) -> None:
        """Reconnect after the backoff (a refused pin keeps being refused, visibly)."""
        self.manager.loop.call_soon_threadsafe(self._schedule_reconnect)

    async def _connect_async(self) -> None:  # roslibpy 2.1 private: where the TLS context is made
        loop = self.manager.loop
        if loop is None or loop.is_closed():
            return
        context = None
        if self.isSecure:
            if self.pin is not None:
                # Not a CA question: the certificate is checked against the pin in
                # PinnedProtocol.connection_made, before the WebSocket handshake.
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                context = ssl.create_default_context()
        try:
            await loop.create_connection(self, self.host, self.port, ssl=context)
        except Exception as exc:  # every failed attempt is retried, and said
            self.emit('unreachable', f'cannot connect: {exc}')
            self._schedule_reconnect()


class PinnedRos(roslibpy.Ros):
    """
    A :class:`roslibpy.Ros` to ``url`` with the certificate pinned to ``fingerprint``.

    :param url: ``wss://host:port`` (IPv6 hosts in brackets) or ``ws://``.
    :param fingerprint: the SHA-256 fingerprint to pin (required for wss from a pairing).
    :param token: the pairing token (the rosauth secret).
    """

    def __init__(self, url: str, fingerprint: str | None, token: str | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ('ws', 'wss') or not parts.hostname:
            raise ValueError(f'not a ws:// or wss:// URL: {url!r}')
        host = parts.hostname

        def credentials() -> dict:
            return auth_request(token or '', client='tablet', dest=host, now=time.time())

        # What Ros.__init__ does, with our factory instead of the one it would pick by name.
        self._id_counter = 0
        self.factory = PinnedFactory(url, fingerprint, credentials if token else None)
        self.is_connecting = False
        self.connect()
