"""
Taught waypoints: named joint positions, saved as YAML in the user's data folder. Pure Python.

A waypoint stores joint positions (rad, m for prismatic joints), not a Cartesian pose, so
playing it back reproduces the taught posture exactly, whatever IK would choose.

File format (``<user data>/waypoints/<profile>.yaml``)::

    format: 1
    profile: so101
    waypoints:
      - name: P1
        joints: {shoulder_pan: 0.1, shoulder_lift: -0.4, ...}
        gripper: 0.8          # optional, 0 closed .. 1 open

Loading checks everything first and changes the list only when the whole file is good; a bad
file raises :class:`WaypointError` naming the file and the entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import os
from pathlib import Path
import tempfile
from typing import Any, Iterator, Mapping, Sequence

from robot_touch.errors import RobotTouchError
from robot_touch.paths import user_data_dir
import yaml

FORMAT_VERSION = 1


class WaypointError(RobotTouchError):
    """A waypoint file or entry that cannot be used; the message names the file and entry."""


@dataclass(frozen=True)
class Waypoint:
    """A named posture: joint name → position, and optionally the gripper opening (0..1)."""

    name: str
    joints: Mapping[str, float]
    gripper: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            'name': self.name,
            'joints': {k: float(v) for k, v in self.joints.items()},
        }
        if self.gripper is not None:
            d['gripper'] = float(self.gripper)
        return d


def default_path(profile_name: str) -> Path:
    """Where the waypoints of ``profile_name`` are saved by default."""
    return user_data_dir() / 'waypoints' / f'{profile_name}.yaml'


@dataclass
class WaypointList:
    """
    An ordered list of uniquely named waypoints.

    :param joint_names: when given, every waypoint must hold exactly these joints.
    """

    joint_names: Sequence[str] | None = None
    items: list[Waypoint] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Waypoint]:
        return iter(self.items)

    @property
    def names(self) -> list[str]:
        return [w.name for w in self.items]

    def get(self, name: str) -> Waypoint:
        for w in self.items:
            if w.name == name:
                return w
        raise KeyError(name)

    def next_name(self, prefix: str = 'P') -> str:
        """Return the first free name ``P1``, ``P2``, …."""
        taken = set(self.names)
        i = 1
        while f'{prefix}{i}' in taken:
            i += 1
        return f'{prefix}{i}'

    def add(
        self, joints: Mapping[str, float], name: str | None = None, gripper: float | None = None
    ) -> Waypoint:
        """Append a waypoint (named ``P<n>`` when no name is given); WaypointError on bad data."""
        wp = _check_waypoint(
            name if name is not None else self.next_name(), joints, gripper, self.joint_names, ''
        )
        if wp.name in self.names:
            raise WaypointError(f'a waypoint called {wp.name!r} exists already')
        self.items.append(wp)
        return wp

    def remove(self, name: str) -> None:
        """Delete the waypoint called ``name`` (KeyError when there is none)."""
        self.items.remove(self.get(name))

    def clear(self) -> None:
        self.items.clear()

    # -- files

    def to_yaml(self, profile_name: str = '') -> str:
        doc = {
            'format': FORMAT_VERSION,
            'profile': profile_name,
            'waypoints': [w.to_dict() for w in self.items],
        }
        return (
            '# robot_touch waypoints: joint positions in rad (m for prismatic joints)\n'
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        )

    def save(self, path: str | Path, profile_name: str = '') -> Path:
        """Write the list to ``path`` atomically (a crash never leaves half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.waypoints-', suffix='.yaml', dir=path.parent)
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as f:
                f.write(self.to_yaml(profile_name))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def load(self, path: str | Path) -> None:
        """Replace the list with the file's waypoints; on any error the list is unchanged."""
        self.items = parse_waypoints(path, self.joint_names)


def parse_waypoints(path: str | Path, joint_names: Sequence[str] | None = None) -> list[Waypoint]:
    """Read and check a waypoint file; WaypointError naming the file and entry on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise WaypointError(f'{path}: no such file') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WaypointError(f'{path}: cannot read ({exc})') from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' at line {mark.line + 1}' if mark else ''
        raise WaypointError(f'{path}: not valid YAML{where}') from None
    if not isinstance(doc, dict) or not isinstance(doc.get('waypoints', []), list):
        raise WaypointError(f"{path}: expected a mapping with a 'waypoints' list")
    if doc.get('format', FORMAT_VERSION) != FORMAT_VERSION:
        raise WaypointError(
            f'{path}: format {doc.get("format")!r} is not supported (expected {FORMAT_VERSION})'
        )
    out: list[Waypoint] = []
    seen: set[str] = set()
    for i, entry in enumerate(doc.get('waypoints') or []):
        where = f'{path}: waypoints[{i}]'
        if not isinstance(entry, dict):
            raise WaypointError(f'{where}: must be a mapping with name and joints')
        wp = _check_waypoint(
            entry.get('name'), entry.get('joints'), entry.get('gripper'), joint_names, where
        )
        if wp.name in seen:
            raise WaypointError(f'{where}: the name {wp.name!r} is used twice')
        seen.add(wp.name)
        out.append(wp)
    return out


def _check_waypoint(
    name: Any, joints: Any, gripper: Any, joint_names: Sequence[str] | None, where: str
) -> Waypoint:
    prefix = f'{where}: ' if where else ''
    if not isinstance(name, str) or not name.strip():
        raise WaypointError(f'{prefix}name must be a non-empty string, got {name!r}')
    if not isinstance(joints, Mapping) or not joints:
        raise WaypointError(f'{prefix}{name}: joints must be a mapping of joint name → position')
    values: dict[str, float] = {}
    for k, v in joints.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise WaypointError(f'{prefix}{name}: joint {k!r} must be a finite number, got {v!r}')
        values[str(k)] = float(v)
    if joint_names is not None and set(values) != set(joint_names):
        missing = sorted(set(joint_names) - set(values))
        extra = sorted(set(values) - set(joint_names))
        raise WaypointError(
            f'{prefix}{name}: joints do not match the arm (missing {missing}, unknown {extra})'
        )
    if gripper is not None:
        if (
            isinstance(gripper, bool)
            or not isinstance(gripper, (int, float))
            or not 0.0 <= gripper <= 1.0
        ):
            raise WaypointError(
                f'{prefix}{name}: gripper must be a number in 0..1, got {gripper!r}'
            )
        gripper = float(gripper)
    return Waypoint(name.strip(), values, gripper)


# ---------------------------------------------------------------------------- playback


class Playback:
    """
    Steps through waypoints: send one, wait until the arm is there, send the next.

    :param waypoints: the sequence to play.
    :param loop: start again after the last one.
    :param tolerance: every joint within this (rad) counts as arrived.
    :param dwell_s: time to stay at each waypoint before moving on.
    """

    def __init__(
        self,
        waypoints: Sequence[Waypoint],
        loop: bool = False,
        tolerance: float = 0.03,
        dwell_s: float = 0.3,
    ) -> None:
        self.waypoints = list(waypoints)
        self.loop = loop and len(self.waypoints) > 0
        self.tolerance = tolerance
        self.dwell_s = dwell_s
        self.index = -1
        self._arrived_at: float | None = None
        self.active = bool(self.waypoints)

    @property
    def current(self) -> Waypoint | None:
        return self.waypoints[self.index] if 0 <= self.index < len(self.waypoints) else None

    def stop(self) -> None:
        self.active = False

    def update(self, positions: Mapping[str, float], now: float) -> Waypoint | None:
        """Given the arm's joint positions, the waypoint to send now (or ``None``)."""
        if not self.active:
            return None
        if self.index < 0:
            self.index = 0
            self._arrived_at = None
            return self.waypoints[0]
        wp = self.waypoints[self.index]
        there = all(
            abs(positions.get(k, math.inf) - v) <= self.tolerance for k, v in wp.joints.items()
        )
        if not there:
            self._arrived_at = None
            return None
        if self._arrived_at is None:
            self._arrived_at = now
        if now - self._arrived_at < self.dwell_s:
            return None
        if self.index + 1 >= len(self.waypoints):
            if not self.loop:
                self.active = False
                return None
            self.index = -1
        self.index += 1
        self._arrived_at = None
        return self.waypoints[self.index]
