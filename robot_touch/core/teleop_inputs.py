"""
Input checks for teleop.

Workspace box, message stamp order, joint name/value lists, and who publishes the joint states.

Pure Python, no ROS. Each check returns a result or raises :class:`InputRejected` carrying the
status code the user sees (see :mod:`robot_touch.core.teleop_status`).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Hashable, Sequence

import numpy as np


class InputRejected(ValueError):
    """An input message that cannot be used. ``code`` is a teleop status code."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f'{code}: {detail}')


@dataclass(frozen=True)
class WorkspaceBox:
    """Axis-aligned box in the base frame (m) that end-effector targets are clamped into."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.lower) != 3 or len(self.upper) != 3:
            raise ValueError('workspace bounds need 3 values each (x y z, m)')
        if not all(math.isfinite(v) for v in (*self.lower, *self.upper)):
            raise ValueError('workspace bounds must be finite')
        if not all(lo < hi for lo, hi in zip(self.lower, self.upper)):
            raise ValueError(
                f'workspace lower {self.lower} must be below upper {self.upper} on every axis'
            )

    @classmethod
    def around_reach(
        cls, reach: float, centre: Sequence[float] = (0.0, 0.0, 0.0), floor: float = 0.0
    ) -> WorkspaceBox:
        """
        Return the default box: every point the tip can reach above the mounting plane.

        ``reach`` is measured from ``centre`` (the first joint's origin, e.g. 0.095 m above
        the base on the SO-101), so the box is the reach sphere's bounding box cut at
        ``floor``: centre ± reach in x and y, ``floor`` up to centre z + reach.
        """
        cx, cy, cz = (float(v) for v in centre)
        return cls((cx - reach, cy - reach, floor), (cx + reach, cy + reach, cz + reach))

    def clamp(self, xyz: Sequence[float]) -> tuple[np.ndarray, bool]:
        """``xyz`` moved into the box, and whether it had to move."""
        p = np.asarray(xyz, dtype=float)
        q = np.minimum(np.asarray(self.upper), np.maximum(np.asarray(self.lower), p))
        return q, bool(np.any(q != p))

    def outside(self, xyz: Sequence[float]) -> float:
        """How far (m) ``xyz`` lies outside the box; 0 inside or on it."""
        p = np.asarray(xyz, dtype=float)
        below = np.maximum(np.asarray(self.lower) - p, 0.0)
        above = np.maximum(p - np.asarray(self.upper), 0.0)
        return float(np.linalg.norm(below + above))


class StampGuard:
    """
    Reject messages stamped out of order or too far in the future.

    Rejects messages stamped earlier than the last accepted one from the same sender on the
    same input, and messages stamped too far in the future.
    A zero stamp (the publisher did not stamp) is always accepted and does not move the mark.
    Order is kept per sender (publisher), so two UIs whose clocks differ do not reject each
    other. A stamp more than ``max_lead`` seconds ahead of the receiver's clock is refused
    (it would otherwise hold the mark, and lock the input out, until the clock caught up), so
    the mark is never more than ``max_lead`` ahead and a sender is never locked out longer.

    :param max_lead: how far (s) a stamp may be ahead of the receiver's clock.
    """

    def __init__(self, max_lead: float = 0.5) -> None:
        if not (math.isfinite(max_lead) and max_lead >= 0):
            raise ValueError(f'max_lead must be ≥ 0 seconds, got {max_lead!r}')
        self.max_lead = max_lead
        self._last: dict[tuple[str, Hashable], float] = {}

    def check(
        self, topic: str, stamp: float, clock: float | None = None, sender: Hashable = None
    ) -> None:
        """
        Check that ``stamp`` neither goes back in time for this sender nor runs ahead.

        ``clock`` is the receiver's time in the stamps' clock (None: not checked).

        :raises InputRejected: ("out_of_order") if ``stamp`` goes back in time for this
            sender, or is more than ``max_lead`` ahead of ``clock``.
        """
        if stamp == 0.0:
            return
        if not math.isfinite(stamp):
            raise InputRejected('invalid_value', f'{topic}: stamp is not a finite time')
        if clock is not None and stamp > clock + self.max_lead:
            raise InputRejected(
                'out_of_order',
                f"{topic}: stamp {stamp:.6f} s is {stamp - clock:.3f} s ahead of this computer's "
                'clock '
                f"(more than {self.max_lead:g} s): check the sender's clock",
            )
        key = (topic, sender)
        last = self._last.get(key)
        if last is not None and stamp < last:
            raise InputRejected(
                'out_of_order',
                f'{topic}: stamp {stamp:.6f} s is older than the last one ({last:.6f} s)',
            )
        self._last[key] = stamp

    def reset(self) -> None:
        self._last.clear()


class JointStatesSource:
    """
    Knows which publisher the measured joint states come from.

    The first publisher of complete joint states is the source. Another one sending complete
    joint states while the source is alive is a *conflict* (a spoofer, a second bridge, a
    forgotten simulator): whose positions are true cannot be told, so nothing may be latched
    to them until only one publisher has been heard for ``clear_after`` seconds; that one is
    then the source. The graph's publisher count (when the caller knows it) counts too.

    :param clear_after: seconds of hearing a single publisher that end a conflict.
    """

    def __init__(self, clear_after: float) -> None:
        self.clear_after = clear_after
        self.source: Hashable = None
        self._heard: dict[Hashable, float] = {}
        self._publishers = 1

    def heard(self, sender: Hashable, now: float) -> bool:
        """
        Note a complete joint state from ``sender`` at ``now``.

        :returns: True if it is from the source (and may be used), False if it is from
            another publisher.
        """
        self._heard[sender] = now
        for other, at in list(self._heard.items()):
            if now - at > self.clear_after:
                del self._heard[other]
        if self.source not in self._heard:
            # the source has gone quiet: the one heard now takes over (once no other is heard)
            self.source = sender if len(self._heard) == 1 else self.source
        return sender == self.source

    def set_publisher_count(self, count: int) -> None:
        """Set how many publishers the ROS graph shows on the joint states topic."""
        self._publishers = int(count)

    def conflict(self, now: float) -> list[Hashable]:
        """
        Return the publishers in conflict, an empty list when there is none.

        They conflict when more than one is heard within ``clear_after``.
        """
        live = [s for s, at in self._heard.items() if now - at <= self.clear_after]
        if len(live) > 1:
            return live
        if self._publishers > 1:
            return live + ['(not yet heard)'] * (self._publishers - len(live))
        return []


def is_empty_pose(
    frame_id: str, stamp: float, xyz: Sequence[float], quat_xyzw: Sequence[float]
) -> bool:
    """
    Return whether a PoseStamped has every field at its default.

    No frame, no stamp, origin, identity: a message built and sent without being filled in,
    never a target.
    """
    return (
        frame_id == ''
        and stamp == 0.0
        and all(float(v) == 0.0 for v in xyz)
        and [float(v) for v in quat_xyzw] == [0.0, 0.0, 0.0, 1.0]
    )


def named_values(
    topic: str, names: Sequence[str], values: Sequence[float], known: Sequence[str]
) -> dict[str, float]:
    """
    ``names``/``values`` of a JointState-like message as a dict, checked.

    :raises InputRejected: "unknown_joint" naming the unknown names and the known ones;
        "invalid_value" for length mismatches, duplicates or non-finite values.
    """
    names = list(names)
    values = list(values)
    if not names:
        raise InputRejected('invalid_value', f'{topic}: no joint names given')
    if len(values) != len(names):
        raise InputRejected(
            'invalid_value', f'{topic}: {len(names)} names but {len(values)} values'
        )
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputRejected(
            'unknown_joint',
            f'{topic}: unknown joint(s) {", ".join(map(repr, unknown))}; '
            f'known: {", ".join(known)}',
        )
    if len(set(names)) != len(names):
        raise InputRejected('invalid_value', f'{topic}: a joint is named twice')
    out: dict[str, float] = {}
    for n, v in zip(names, values):
        v = float(v)
        if not math.isfinite(v):
            raise InputRejected('invalid_value', f'{topic}: {n} is {v}, not a finite number')
        out[n] = v
    return out


def finite_vector(topic: str, values: Sequence[float], length: int) -> np.ndarray:
    """``values`` as a float array of ``length``; "invalid_value" if not finite."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (length,) or not np.all(np.isfinite(arr)):
        raise InputRejected(
            'invalid_value',
            f'{topic}: needs {length} finite numbers, got {list(np.asarray(values).reshape(-1))}',
        )
    return arr
