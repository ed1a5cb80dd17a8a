"""Input checks for teleop: workspace box, message stamp order, joint name/value lists.

Pure Python, no ROS. Each check returns a result or raises :class:`InputRejected` carrying the
status code the user sees (see :mod:`robot_touch.core.teleop_core`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


class InputRejected(ValueError):
    """An input message that cannot be used. ``code`` is a teleop status code."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True)
class WorkspaceBox:
    """Axis-aligned box in the base frame (m) that end-effector targets are clamped into."""

    lower: tuple[float, float, float]
    upper: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.lower) != 3 or len(self.upper) != 3:
            raise ValueError("workspace bounds need 3 values each (x y z, m)")
        if not all(math.isfinite(v) for v in (*self.lower, *self.upper)):
            raise ValueError("workspace bounds must be finite")
        if not all(lo < hi for lo, hi in zip(self.lower, self.upper)):
            raise ValueError(f"workspace lower {self.lower} must be below upper {self.upper} on every axis")

    @classmethod
    def around_reach(cls, reach: float, floor: float = 0.0) -> WorkspaceBox:
        """The default box: ±reach in x and y, from ``floor`` (the mounting plane) up to reach in z."""
        return cls((-reach, -reach, floor), (reach, reach, reach))

    def clamp(self, xyz: Sequence[float]) -> tuple[np.ndarray, bool]:
        """``xyz`` moved into the box, and whether it had to move."""
        p = np.asarray(xyz, dtype=float)
        q = np.minimum(np.asarray(self.upper), np.maximum(np.asarray(self.lower), p))
        return q, bool(np.any(q != p))


class StampGuard:
    """Rejects messages stamped earlier than the last accepted one on the same input.

    A zero stamp (the publisher did not stamp) is always accepted and does not move the mark.
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def check(self, topic: str, stamp: float) -> None:
        """Raise :class:`InputRejected` ("out_of_order") if ``stamp`` goes back in time."""
        if stamp == 0.0:
            return
        if not math.isfinite(stamp):
            raise InputRejected("invalid_value", f"{topic}: stamp is not a finite time")
        last = self._last.get(topic)
        if last is not None and stamp < last:
            raise InputRejected("out_of_order", f"{topic}: stamp {stamp:.6f} s is older than the last one ({last:.6f} s)")
        self._last[topic] = stamp

    def reset(self) -> None:
        self._last.clear()


def named_values(
    topic: str, names: Sequence[str], values: Sequence[float], known: Sequence[str]
) -> dict[str, float]:
    """``names``/``values`` of a JointState-like message as a dict, checked.

    Raises:
        InputRejected: "unknown_joint" naming the unknown names and the known ones;
            "invalid_value" for length mismatches, duplicates or non-finite values.
    """
    names = list(names)
    values = list(values)
    if not names:
        raise InputRejected("invalid_value", f"{topic}: no joint names given")
    if len(values) != len(names):
        raise InputRejected("invalid_value", f"{topic}: {len(names)} names but {len(values)} values")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputRejected("unknown_joint", f"{topic}: unknown joint(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise InputRejected("invalid_value", f"{topic}: a joint is named twice")
    out: dict[str, float] = {}
    for n, v in zip(names, values):
        v = float(v)
        if not math.isfinite(v):
            raise InputRejected("invalid_value", f"{topic}: {n} is {v}, not a finite number")
        out[n] = v
    return out


def finite_vector(topic: str, values: Sequence[float], length: int) -> np.ndarray:
    """``values`` as a float array of ``length``; "invalid_value" if not finite."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.shape != (length,) or not np.all(np.isfinite(arr)):
        raise InputRejected("invalid_value", f"{topic}: needs {length} finite numbers, got {list(np.asarray(values).reshape(-1))}")
    return arr
