"""
`robot-touch pair`.

What a tablet needs to reach this arm's gateway — URL, token and the certificate's SHA-256
fingerprint — as text, a QR code (terminal and PNG) or JSON.

The tablet app reads the QR (or the pasted JSON) and pins the fingerprint: it talks only to
this gateway's certificate. ``--rotate`` makes a new token: every old one stops working and
clients that used it are disconnected by the running gateway within a second.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
from pathlib import Path
import shutil
import socket
import subprocess
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--namespace', default='', help="the arm's ROS namespace (one gateway and token per arm)"
    )
    parser.add_argument(
        '--rotate', action='store_true', help='make a new token; old tokens stop working'
    )
    parser.add_argument(
        '--json', action='store_true', help='print {"url", "token", "fingerprint"} only'
    )
    parser.add_argument(
        '--host', default='', help="address or name for the URL (default: this computer's address)"
    )
    parser.add_argument(
        '--port',
        type=int,
        default=0,
        help="gateway port (default: the running gateway's, else 9090)",
    )
    parser.add_argument(
        '--png', default='', help='where to save the QR code (default: next to the token)'
    )
    parser.add_argument('--no-qr', action='store_true', help='no QR code in the terminal')


def run(args: argparse.Namespace) -> int:
    from robot_touch.gateway import tls

    state = tls.read_state(args.namespace) or {}
    secure = bool(state.get('tls', True))
    tokens = tls.token_file(args.namespace)
    token = tokens.rotate() if args.rotate else tokens.ensure()
    fingerprint = tls.ensure_identity().fingerprint if secure else ''
    port = args.port or int(state.get('port') or 9090)
    hosts = [args.host] if args.host else local_addresses(state.get('bind', '::'))
    url = gateway_url(hosts[0], port, secure)
    pairing = {'url': url, 'token': token, 'fingerprint': fingerprint}
    if args.json:
        print(json.dumps(pairing))
        return 0
    text = json.dumps(pairing, separators=(',', ':'))
    png = (
        Path(args.png)
        if args.png
        else tls.remote_dir() / tls.namespace_label(args.namespace) / 'pairing.png'
    )
    saved = save_qr_png(text, png)
    label = args.namespace.strip('/') or '/'
    print(f'Pair a tablet with the arm {label}:')
    print(f'  URL          {url}')
    for other in hosts[1:]:
        print(f'  (or)         {gateway_url(other, port, secure)}')
    print(f'  token        {token}')
    print(
        f'  fingerprint  {fingerprint or "none: the gateway runs without TLS (--remote-insecure)"}'
    )
    if args.rotate:
        print('  A new token: the old one no longer works; tablets that used it are disconnected.')
    if not state:
        print(f'  (no gateway has run for {label} yet: start one with `robot-touch run --remote`)')
    if not args.no_qr:
        print_qr(text)
    if saved:
        print(f'QR code saved to {saved}')
    print('On the tablet: robot-touch-tablet, then scan or paste; or')
    print(
        f'  robot-touch-tablet {url} --token {token}'
        + (f' --fingerprint {fingerprint}' if fingerprint else '')
    )
    return 0


def gateway_url(host: str, port: int, secure: bool) -> str:
    """``wss://host:port`` with IPv6 literals in brackets."""
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f'[{host}]'
    except ValueError:
        pass
    return f'{"wss" if secure else "ws"}://{host}:{port}'


def local_addresses(bind: str = '::') -> list[str]:
    """
    Addresses a tablet can use to reach this computer, the likeliest first.

    The bound address when the gateway listens on one; else global IPv4, then global IPv6 addresses
    (``ip -j addr``), then the host name.
    """
    if bind not in ('', '::', '0.0.0.0'):
        return [bind]
    found: list[str] = []
    if shutil.which('ip'):
        try:
            out = subprocess.run(
                ['ip', '-j', 'addr', 'show'], capture_output=True, text=True, timeout=5
            ).stdout
            for link in json.loads(out or '[]'):
                for addr in link.get('addr_info', []):
                    if addr.get('scope') == 'global' and addr.get('local'):
                        found.append(addr['local'])
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    found.sort(key=lambda a: ipaddress.ip_address(a).version)  # IPv4 first, as most tablets expect
    return found + [socket.gethostname()]


def print_qr(text: str) -> None:
    """Print the QR code in the terminal (text blocks)."""
    import qrcode

    qr = qrcode.QRCode(border=2)
    qr.add_data(text)
    qr.make(fit=True)
    qr.print_ascii(out=sys.stdout, invert=True)


def save_qr_png(text: str, path: Path) -> Path | None:
    """Save the QR code as a PNG (Pillow, else pypng), mode 0600; None if neither is installed."""
    import qrcode

    qr = qrcode.QRCode(border=4, box_size=8)
    qr.add_data(text)
    qr.make(fit=True)
    try:
        image = qr.make_image()
    except ImportError:
        try:
            from qrcode.image.pure import PyPNGImage

            image = qr.make_image(image_factory=PyPNGImage)
        except ImportError:
            return None
    from robot_touch.gateway.auth import write_private

    buffer = io.BytesIO()
    image.save(buffer)
    write_private(path, buffer.getvalue())  # it holds the token: owner only
    return path
