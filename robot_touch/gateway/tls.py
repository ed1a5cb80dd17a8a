"""
The gateway's TLS identity and where the remote-access files live.

On first use the gateway makes an ECDSA P-256 key and a self-signed certificate (the
``cryptography`` package) in ``<user data>/remote/tls/`` (files 0600, folder 0700). Clients
do not check it against a CA: they pin its SHA-256 fingerprint, which ``robot-touch pair``
shows (hex pairs with colons, as ``openssl x509 -fingerprint -sha256`` prints it).

Layout of ``<user data>/remote/`` (``$ROBOT_TOUCH_DATA`` moves it):

    tls/gateway.key, tls/gateway.crt      the identity, shared by every namespace
    <label>/token                          the pairing token of a namespace ("default" for /)
    <label>/gateway.json                   what the running gateway listens on (for `pair`)
"""

from __future__ import annotations

from dataclasses import dataclass
import datetime
import hashlib
import ipaddress
import json
from pathlib import Path
import socket
import ssl
from typing import Any

from robot_touch.gateway.auth import TokenFile, write_private
from robot_touch.paths import user_data_dir

CERT_DAYS = 3650


def remote_dir() -> Path:
    """``<user data>/remote`` (0700: it holds the key and the tokens)."""
    path = user_data_dir() / 'remote'
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def namespace_label(namespace: str) -> str:
    """``/arm1/`` → ``arm1``; "" → ``default`` (a folder name per arm namespace)."""
    return namespace.strip('/').replace('/', '_') or 'default'


def token_file(namespace: str) -> TokenFile:
    return TokenFile(remote_dir() / namespace_label(namespace) / 'token')


def state_file(namespace: str) -> Path:
    return remote_dir() / namespace_label(namespace) / 'gateway.json'


@dataclass(frozen=True)
class Identity:
    """The key and certificate files and the certificate's fingerprint."""

    key_path: Path
    cert_path: Path
    fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        """Return a TLS server context (TLS 1.2+) with this identity."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert_path), str(self.key_path))
        # No TLS 1.3 session tickets. A client whose reader thread and writer share one SSL
        # object (the `websockets` sync client does) processes the tickets in its reader while
        # its writer sends the HTTP upgrade; OpenSSL's SSL objects are not thread-safe, and
        # 1 in 12-30 such handshakes lost the request here (the server waited for it until the
        # open timeout). Every connection does a full handshake anyway: nothing is resumed.
        ctx.num_tickets = 0
        return ctx


def fingerprint_of(der: bytes) -> str:
    """SHA-256 of a DER certificate as ``AB:CD:...`` (32 pairs)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ':'.join(digest[i:i + 2] for i in range(0, len(digest), 2))


def normalise_fingerprint(text: str) -> str:
    """
    Accept ``ab:cd..``, ``ABCD..`` or ``sha256:ab cd ..``; return the canonical form.

    :raises ValueError: not 64 hex digits.
    """
    raw = text.strip().lower()
    if raw.startswith('sha256:') or raw.startswith('sha256='):
        raw = raw[7:]
    digits = ''.join(c for c in raw if c not in ': -')
    if len(digits) != 64 or any(c not in '0123456789abcdef' for c in digits):
        raise ValueError(f'not a SHA-256 fingerprint (64 hex digits): {text!r}')
    return fingerprint_of_hex(digits)


def fingerprint_of_hex(digits: str) -> str:
    d = digits.upper()
    return ':'.join(d[i:i + 2] for i in range(0, len(d), 2))


def ensure_identity(folder: Path | None = None) -> Identity:
    """Return the gateway's key and certificate, made on first use."""
    folder = Path(folder) if folder is not None else remote_dir() / 'tls'
    key_path, cert_path = folder / 'gateway.key', folder / 'gateway.crt'
    if not (key_path.is_file() and cert_path.is_file()):
        key_pem, cert_pem = make_self_signed()
        write_private(key_path, key_pem)
        write_private(cert_path, cert_pem)
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text(encoding='ascii'))
    return Identity(key_path, cert_path, fingerprint_of(der))


def make_self_signed(hostname: str | None = None) -> tuple[bytes, bytes]:
    """
    (key PEM, certificate PEM).

    ECDSA P-256, self-signed, valid for 10 years, with the host name, ``localhost`` and the
    loopback addresses as subject alternative names.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    hostname = hostname or socket.gethostname() or 'robot_touch'
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f'robot_touch gateway {hostname}'[:64])]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(hostname), x509.DNSName('localhost')]
    alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in ('127.0.0.1', '::1')]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def write_state(namespace: str, info: dict[str, Any]) -> None:
    """Record what the running gateway listens on (``robot-touch pair`` reads it)."""
    write_private(state_file(namespace), json.dumps(info, indent=1) + '\n')


def read_state(namespace: str) -> dict[str, Any] | None:
    try:
        data = json.loads(state_file(namespace).read_text(encoding='utf-8'))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None
