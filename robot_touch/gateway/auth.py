"""
Authentication: rosbridge's ``auth`` op with the rosauth MAC scheme, and the pairing token.

The MAC, as rosauth's ``ros_mac_authentication`` computes it (GT-RAIL/rosauth,
src/ros_mac_authentication.cpp, ROS 1 and ROS 2 branches; fields from rosbridge's protocol
document, ``auth`` op): the lowercase hex SHA-512 of the concatenation

    secret + client + dest + rand + str(t.sec) + level + str(end.sec)

where ``client``/``dest`` are the client's and the server's addresses as the client gives them,
``rand`` a random string, ``t`` the request time and ``end`` the end of the session (whole
seconds since the epoch), ``level`` a user level string. The request is good when the MAC
matches, ``t`` is within the allowed clock difference of the server's time and ``end`` is in
the future. Differences from rosauth, on purpose: the whole 128-digit MAC is compared
(rosauth's memcmp compares the first 64), a ``rand`` is accepted once per time window (no
replay), and the allowed clock difference is a parameter (a tablet on a factory Wi-Fi
without NTP can be off by more than rosauth's 5 s; the refusal says by how much).

The secret is the pairing token: 16 characters, rosauth's secret length, so a rosauth secret
file can hold it too. One token per arm namespace, in the user data folder, mode 0600;
``robot-touch pair --rotate`` writes a new one and the gateway drops clients of the old one.

Pure Python (hashlib, secrets), time passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import os
from pathlib import Path
import secrets
import string
from typing import Any, Mapping

TOKEN_LENGTH = 16  # rosauth's SECRET_LENGTH
TOKEN_ALPHABET = string.ascii_letters + string.digits
AUTH_FIELDS = ('mac', 'client', 'dest', 'rand', 't', 'level', 'end')


class AuthError(Exception):
    """An ``auth`` request that is refused; the message says why (never the secret)."""


def new_token() -> str:
    """Return a fresh random token (16 characters of [A-Za-z0-9], about 95 bits)."""
    return ''.join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def _seconds(value: Any, name: str) -> int:
    """Rosbridge sends times as whole seconds, or as {sec(s), nanosec/nsecs}."""
    if isinstance(value, dict):
        value = value.get('sec', value.get('secs'))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthError(f'auth field {name} must be a time in seconds')
    if not -(2**63) < value < 2**63:
        raise AuthError(f'auth field {name} is out of range')
    return int(value)


def compute_mac(
    secret: str, client: str, dest: str, rand: str, t: int, level: str, end: int
) -> str:
    """Return the rosauth MAC (lowercase hex SHA-512) of one auth request."""
    text = f'{secret}{client}{dest}{rand}{int(t)}{level}{int(end)}'
    return hashlib.sha512(text.encode('utf-8')).hexdigest()


def auth_request(
    secret: str,
    client: str,
    dest: str,
    now: float,
    session_s: float = 86400.0,
    level: str = 'operator',
) -> dict[str, Any]:
    """Return a complete rosbridge ``auth`` op for ``secret`` (what a rosauth client sends)."""
    rand = secrets.token_hex(8)
    t = int(now)
    end = int(now + session_s)
    mac = compute_mac(secret, client, dest, rand, t, level, end)
    return {
        'op': 'auth',
        'mac': mac,
        'client': client,
        'dest': dest,
        'rand': rand,
        't': t,
        'level': level,
        'end': end,
    }


@dataclass
class Verifier:
    """
    Checks ``auth`` requests against the current token.

    :param token: the secret (None: no token yet, every request is refused).
    :param max_clock_skew: allowed difference between the request's ``t`` and ``now`` (s).
    """

    token: str | None
    max_clock_skew: float = 30.0

    def __post_init__(self) -> None:
        self._seen: dict[str, float] = {}

    def check(self, request: Mapping[str, Any], now: float) -> None:
        """Accept (return) or refuse (:class:`AuthError`) one ``auth`` op."""
        missing = [f for f in AUTH_FIELDS if f not in request]
        if missing:
            raise AuthError(
                f'auth needs the fields {", ".join(AUTH_FIELDS)}; missing {", ".join(missing)}'
            )
        texts = {}
        for name in ('mac', 'client', 'dest', 'rand', 'level'):
            if not isinstance(request[name], str) or len(request[name]) > 256:
                raise AuthError(f'auth field {name} must be a string of at most 256 characters')
            texts[name] = request[name]
        t, end = _seconds(request['t'], 't'), _seconds(request['end'], 'end')
        if self.token is None:
            raise AuthError(
                'no pairing token on this gateway yet: run `robot-touch pair` on its computer'
            )
        skew = t - now
        if abs(skew) > self.max_clock_skew:
            raise AuthError(
                f"the request time differs from the gateway's clock by {skew:+.0f} s "
                f'(allowed ±{self.max_clock_skew:g} s; gateway time {int(now)})'
            )
        if end <= now:
            raise AuthError('the session end time has passed')
        expected = compute_mac(
            self.token, texts['client'], texts['dest'], texts['rand'], t, texts['level'], end
        )
        if not hmac.compare_digest(expected, texts['mac'].lower()):
            raise AuthError(
                'wrong token (the MAC does not match): pair again with `robot-touch pair`'
            )
        self._forget(now)
        if texts['rand'] in self._seen:
            raise AuthError('this auth request was used before (replay)')
        self._seen[texts['rand']] = now

    def _forget(self, now: float) -> None:
        horizon = 2 * self.max_clock_skew + 1.0
        for rand in [r for r, at in self._seen.items() if now - at > horizon]:
            del self._seen[rand]


class TokenFile:
    """
    The pairing token of one namespace, on disk (mode 0600), re-read when it changes.

    :param path: the token file (its folder is created 0700).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._token: str | None = None

    def read(self) -> str | None:
        """Return the current token (None if there is none), re-read if the file changed."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._token = None, None
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            text = self.path.read_text(encoding='utf-8').strip()
            self._token = (
                text
                if len(text) == TOKEN_LENGTH and all(c in TOKEN_ALPHABET for c in text)
                else None
            )
            self._stamp = stamp
        return self._token

    def ensure(self) -> str:
        """Return the token, creating one if there is none."""
        token = self.read()
        return token if token is not None else self.rotate()

    def rotate(self) -> str:
        """Write a new token (the old one stops working) and return it."""
        token = new_token()
        write_private(self.path, token + '\n')
        self._stamp = None
        return token


def write_private(path: Path, text: str | bytes) -> None:
    """Write ``path`` readable by its owner only (0600; folder 0700), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + '.tmp')
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as f:
        f.write(text.encode('utf-8') if isinstance(text, str) else text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
