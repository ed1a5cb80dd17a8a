"""
Which of the bridge's joints hold torque: the whole arm, or all but a few (free drive).

Free drive releases some joints (torque off) so a person can move them by hand while the
others hold. :class:`JointTorque` keeps what was asked per joint and which joints, switched
back on, still need their goal put on their measured position: a servo holds torque only
once its goal register says "where you are", so it never leaps to a goal it had before it
was released. The bridge core (:mod:`robot_touch.core.bridge_core`) asks it what to write;
the I/O worker switches the servos. Pure Python, no I/O.
"""

from __future__ import annotations

from typing import Sequence

#: a joint switched on may sit this many servo steps outside its limits (the calibration's
#: rounding) and still be held where it is; further out it is refused (holding it would mean
#: a goal outside the limits, pulling it back a motion nobody asked for)
LIMIT_SLACK_STEPS = 1.5


class JointTorque:
    """
    Torque as asked, per joint (in the bridge's joint order).

    :param names: the bridged joints.
    :param held: whether they start holding torque.
    """

    def __init__(self, names: Sequence[str], held: bool = True) -> None:
        self.names = list(names)
        self._index = {name: i for i, name in enumerate(self.names)}
        self.wanted = [held] * len(self.names)
        #: joints switched on whose goal is not yet at their measured position
        self.pending: set[int] = set()

    def indices(self, joints: Sequence[str] | None) -> list[int]:
        """Indicate of ``joints`` (None: every joint); ValueError naming the known joints."""
        if joints is None:
            return list(range(len(self.names)))
        unknown = [name for name in joints if name not in self._index]
        if unknown or not joints:
            raise ValueError(
                f'unknown joint {", ".join(map(repr, unknown)) or "(none given)"}; '
                f'joints: {", ".join(self.names)}'
            )
        return [self._index[name] for name in joints]

    def request(self, indices: Sequence[int], held: bool) -> None:
        """Ask for torque on (``held``) or off on ``indices``."""
        for i in indices:
            if held and not self.wanted[i]:
                self.pending.add(i)
            elif not held:
                self.pending.discard(i)
            self.wanted[i] = held

    def set_all(self, held: bool) -> None:
        """Ask for the whole arm at once: nothing is pending (the core re-latches every joint)."""
        self.wanted = [held] * len(self.names)
        self.pending.clear()

    @property
    def any_held(self) -> bool:
        return any(self.wanted)

    @property
    def all_held(self) -> bool:
        return all(self.wanted)

    @property
    def partly_released(self) -> bool:
        """Tell whether some joints hold and others are released or still waiting to hold again."""
        return self.any_held and (not self.all_held or bool(self.pending))

    def free(self, i: int) -> bool:
        """Joint ``i``'s goal follows its measurement (released, or about to hold again)."""
        return not self.wanted[i] or i in self.pending

    def released(self) -> list[str]:
        """Return the joints asked to be released."""
        return [n for n, held in zip(self.names, self.wanted) if not held]


def outside_limits(
    names: Sequence[str],
    measured: Sequence[float | None],
    lower: Sequence[float],
    upper: Sequence[float],
    step: Sequence[float],
) -> str | None:
    """
    Return why these joints cannot be held where they are, or None.

    They cannot when one is further than :data:`LIMIT_SLACK_STEPS` servo steps (``step``: rad
    per step) outside its limits.
    """
    for name, q, lo, hi, s in zip(names, measured, lower, upper, step):
        slack = LIMIT_SLACK_STEPS * s
        if q is not None and not lo - slack <= q <= hi + slack:
            return (
                f'{name} is outside its limits (measured {q:+.3f}, limits {lo:+.3f} .. '
                f'{hi:+.3f}): move it back inside by hand first; holding it there would pull '
                'it back'
            )
    return None
