"""
Teleop's measured joints: joint_states from one publisher, and re-latching to them.

Re-latching restarts from the measured joints with no jump on the command topic: when nothing
was being published (start-up, enable) the first command is the measured position; after a
hold during which commands kept flowing (stale or NaN joint_states, e-stop release) the
command ramps, jerk-limited, from where it stands to the measured position (mode
``relatch``). :class:`MeasuredJoints` is that part of
:class:`~robot_touch.core.teleop_core.TeleopCore`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from robot_touch.core.teleop_status import Code, Mode


class MeasuredJoints:
    """
    Part of :class:`~robot_touch.core.teleop_core.TeleopCore`: joint_states and latching.

    Uses the core's state (listed in ``TeleopCore.__init__``); every public method takes its
    lock.
    """

    def on_joint_states(
        self, names: Sequence[str], positions: Sequence[float], now: float, source: Any = None
    ) -> Code | None:
        """
        Take a joint_states message from publisher ``source``.

        ``source`` is any hashable id (None if unknown). NaN marks a joint that is not measured.

        :returns: a rejection code, or None if used.
        """
        names = list(names)
        positions = list(positions)
        if len(names) != len(positions):
            return None  # a malformed message from the backend: wait for the next one
        index = {n: i for i, n in enumerate(names)}
        if any(n not in index for n in self.names):
            return None  # some other publisher (e.g. a gripper-only one); not ours to judge
        try:
            q = np.array([float(positions[index[n]]) for n in self.names])
        except (TypeError, ValueError):
            return Code.INVALID_VALUE
        if np.any(np.isinf(q)):
            return Code.INVALID_VALUE
        with self._lock:
            if not self._source.heard(source, now):
                self._conflict = self._source.conflict(now)
                return Code.JOINT_STATES_CONFLICT
            unmeasured = [n for n, v in zip(self.names, q) if math.isnan(v)]
            g = None
            if self.gripper_spec is not None and self.gripper_spec.name in index:
                g = float(positions[index[self.gripper_spec.name]])
                if not math.isfinite(g):
                    unmeasured.append(self.gripper_spec.name)
            if (
                self._measured_at is None
                or now - self._measured_at > self.config.joint_states_timeout
            ):
                self._need_latch = True
            self._measured_at = now
            self._unmeasured = unmeasured
            if unmeasured:
                self._need_latch = True  # the joints must be measured again before moving
                return None
            self._measured = q
            if g is not None:
                self._measured_gripper = g
        return None

    def set_joint_states_publishers(self, count: int) -> None:
        """Set how many publishers the graph shows on joint_states (more than one: conflict)."""
        with self._lock:
            self._source.set_publisher_count(count)

    def _latch(self) -> None:
        """
        Restart from the measured joints (lock held).

        Nothing was being published (start-up, enable): the setpoint is the measured
        position, at rest. Commands kept flowing through the hold: the setpoint moves, from
        where it stands, to the measured position with the normal jerk-limited ramp, so the
        command topic never jumps and a listener that held the arm finds the stream back at
        the arm's position.
        """
        assert self._measured is not None
        g = (
            self._measured_gripper
            if self._measured_gripper is not None
            else (self.gripper_spec.home if self.gripper_spec else None)
        )
        self._need_latch = False
        if self._publishing and self._last_output is not None:
            self._set_mode(Mode.RELATCH)
            # the arm IS at the measured joints: the way back to them needs no workspace check
            self._move_to(self.limits.clamp(self._measured), check_workspace=False)
            if self.gripper_gen is not None:
                self.gripper_gen.move_to([self.gripper_spec.clamp(g)])
            return
        self.gen.latch(self._measured)
        if self.gripper_gen is not None:
            self.gripper_gen.latch([g])
        self._set_mode(Mode.IDLE)
        self._publishing = self._enabled
        self._last_output = self.gen.position
        self._last_gripper = (
            None if self.gripper_gen is None else float(self.gripper_gen.position[0])
        )

    def _reaim_relatch(self) -> None:
        """
        Keep the re-latch ramp aimed at the newest measurement (lock held).

        An arm still settling onto the goal its bridge re-latched to ends where the bridge holds
        it.
        """
        target = self.limits.clamp(self._measured)
        if not np.array_equal(target, self.gen.target):
            self.gen.move_to(target)
        if self.gripper_gen is not None and self._measured_gripper is not None:
            g = [self.gripper_spec.clamp(self._measured_gripper)]
            if not np.array_equal(g, self.gripper_gen.target):
                self.gripper_gen.move_to(g)
