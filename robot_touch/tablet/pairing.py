"""
Pairings: what `robot-touch pair` prints, read back; and the robots this tablet remembers.

A pairing is ``{"url", "token", "fingerprint"}``: the JSON of ``robot-touch pair --json`` and the
text of its QR code (a phone's camera app reads the QR; paste its text). The remembered robots
live in ``<user data>/tablet/robots.json``, mode 0600 (they hold tokens).

The arm's description arrives over the link (profile YAML and expanded URDF); it is written to
``<user data>/tablet/arms/<name>/`` so the app's profile loader reads it like any profile.

Pure Python (json, yaml, xml).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
from pathlib import Path
import re
import time
from typing import Any
import xml.etree.ElementTree as ET

from robot_touch.core.profile import ArmProfile, load_profile
from robot_touch.errors import RobotTouchError
from robot_touch.gateway.auth import TOKEN_ALPHABET, TOKEN_LENGTH, write_private
from robot_touch.gateway.tls import normalise_fingerprint
from robot_touch.paths import user_data_dir
import yaml


class PairingError(RobotTouchError):
    """A pairing text that cannot be used; the message says which part is wrong."""


@dataclass(frozen=True)
class Pairing:
    url: str
    token: str
    fingerprint: str = ''
    name: str = ''
    last_used: float = 0.0

    @property
    def label(self) -> str:
        return self.name or self.url


def check(url: str, token: str, fingerprint: str = '') -> Pairing:
    """Return a pairing from its three parts, each checked."""
    url, token = url.strip(), token.strip()
    if not re.match(r'^wss?://(\[[0-9A-Fa-f:.%a-z]+\]|[A-Za-z0-9_.-]+)(:\d{1,5})?/?$', url):
        raise PairingError(f'not a gateway URL (wss://host:port): {url!r}')
    if len(token) != TOKEN_LENGTH or any(c not in TOKEN_ALPHABET for c in token):
        raise PairingError(
            f'a token is {TOKEN_LENGTH} letters and digits (robot-touch pair shows it)'
        )
    if url.startswith('wss://'):
        if not fingerprint.strip():
            raise PairingError(
                'a wss:// gateway needs its certificate fingerprint (robot-touch pair shows it)'
            )
        try:
            fingerprint = normalise_fingerprint(fingerprint)
        except ValueError as exc:
            raise PairingError(str(exc)) from None
    else:
        fingerprint = ''
    return Pairing(url.rstrip('/'), token, fingerprint)


def parse(text: str) -> Pairing:
    """
    Parse what the user pasted or scanned.

    Either the JSON of ``robot-touch pair --json`` (or its QR text), or
    "URL TOKEN FINGERPRINT".
    """
    text = text.strip()
    if text.startswith('{'):
        try:
            data = json.loads(text)
        except ValueError:
            raise PairingError('the pairing text is not complete JSON: copy all of it') from None
        if not isinstance(data, dict):
            raise PairingError('expected {"url", "token", "fingerprint"}')
        return check(
            str(data.get('url', '')), str(data.get('token', '')), str(data.get('fingerprint', ''))
        )
    parts = text.split()
    if len(parts) not in (2, 3):
        raise PairingError(
            'paste the JSON of `robot-touch pair --json`, or "URL TOKEN FINGERPRINT"'
        )
    return check(*parts)


class Robots:
    """The robots this tablet has connected to, most recent first."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_data_dir() / 'tablet' / 'robots.json'

    def load(self) -> list[Pairing]:
        try:
            data = json.loads(self.path.read_text(encoding='utf-8'))
        except (FileNotFoundError, ValueError):
            return []
        robots = []
        for item in data if isinstance(data, list) else []:
            try:
                robots.append(
                    Pairing(
                        **{
                            k: item[k]
                            for k in ('url', 'token', 'fingerprint', 'name', 'last_used')
                            if k in item
                        }
                    )
                )
            except TypeError:
                continue
        return sorted(robots, key=lambda r: -r.last_used)

    def remember(self, pairing: Pairing, name: str = '') -> None:
        """Add or refresh ``pairing`` (same URL: replaced)."""
        robots = [r for r in self.load() if r.url != pairing.url]
        robots.insert(
            0,
            Pairing(
                pairing.url, pairing.token, pairing.fingerprint, name or pairing.name, time.time()
            ),
        )
        write_private(self.path, json.dumps([asdict(r) for r in robots], indent=1) + '\n')

    def forget(self, url: str) -> None:
        robots = [r for r in self.load() if r.url != url]
        write_private(self.path, json.dumps([asdict(r) for r in robots], indent=1) + '\n')


def profile_from_description(
    profile_yaml: str, urdf: str, folder: Path | None = None
) -> ArmProfile:
    """
    Return the arm profile from its description as the gateway sends it.

    It goes through the same checks as a profile on disk (written under ``folder``, default
    ``<user data>/tablet/arms``).
    """
    try:
        data: Any = yaml.safe_load(profile_yaml)
        root = ET.fromstring(urdf)
    except (yaml.YAMLError, ET.ParseError) as exc:
        raise RobotTouchError(
            f'the arm description from the gateway is not readable: {exc}'
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get('name'), str):
        raise RobotTouchError('the arm profile from the gateway has no name')
    name = re.sub(r'[^A-Za-z0-9_.-]', '_', data['name'])[:64] or 'arm'
    where = (folder or user_data_dir() / 'tablet' / 'arms') / name
    where.mkdir(parents=True, exist_ok=True)
    # Re-serialised: comments (xacro's "autogenerated" note) go, so nothing asks for xacro.
    (where / 'robot.urdf').write_text(ET.tostring(root, encoding='unicode'), encoding='utf-8')
    data['urdf'] = 'robot.urdf'
    path = where / 'profile.yaml'
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding='utf-8')
    return load_profile(path)
