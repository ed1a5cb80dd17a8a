"""
The interactive calibration procedure, as a state machine.

:class:`CalibrationProcedure` is the procedure ``robot-touch calibrate`` walks a person
through, written as a state machine fed with readings and key presses so that it can be
tested without a terminal or an arm. It ends in a
:class:`~robot_touch.core.calibration_file.CalibrationFile`.

Import these names from :mod:`robot_touch.core.calibration`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
import datetime as _dt
from enum import Enum
from typing import Mapping

from robot_touch.core.calibration_file import CalibrationFile, JointCalibration, merge_calibration
from robot_touch.core.profile import ArmProfile


class StepKind(Enum):
    ZERO = 'zero'
    DIRECTION = 'direction'
    RANGE = 'range'
    DONE = 'done'


@dataclass(frozen=True)
class Step:
    """What the person is asked to do now."""

    kind: StepKind
    prompt: str
    joint: str | None = None


@dataclass(frozen=True)
class StepOutcome:
    """The answer to an Enter press: whether the step was accepted and what to tell the person."""

    accepted: bool
    message: str


class CalibrationProcedure:
    """
    Zero pose, then the positive direction of each joint, then the range of every joint.

    Feed it every reading (:meth:`feed`, raw units by joint name, None for a failed read) and
    each Enter press (:meth:`enter`). ``units_per_rad`` is kept from the profile: the servo's
    resolution is a datasheet figure a person cannot measure better by hand.

    :param profile: the arm.
    :param defaults: the calibration to start from (profile values, or a previous file).
    :param min_move: how far (rad) a joint must move for its direction to count.
    :param min_range: how wide (rad) a measured range must be to be believable.
    """

    def __init__(
        self,
        profile: ArmProfile,
        defaults: Mapping[str, JointCalibration] | None = None,
        min_move: float = 0.15,
        min_range: float = 0.3,
    ) -> None:
        self.profile = profile
        self.joints = [spec.name for spec in profile.all_joints]
        self.defaults = dict(defaults or merge_calibration(profile, None))
        self.min_move = min_move
        self.min_range = min_range
        #: joint name -> the servo-side settings read when the procedure started
        self.servo_settings: dict[str, dict[str, int]] = {}
        self.latest: dict[str, int | None] = dict.fromkeys(self.joints)
        self.zero: dict[str, int] = {}
        self.direction: dict[str, int] = {}
        self.flipped: list[str] = []
        self.raw_min: dict[str, int] = {}
        self.raw_max: dict[str, int] = {}
        self._steps = [
            Step(
                StepKind.ZERO,
                'Move the arm to its zero pose (every joint at 0 rad), then press Enter.',
            )
        ]
        for name in self.joints:
            spec = profile.joint(name)
            positive = 'open' if spec is profile.gripper else 'positive'
            self._steps.append(
                Step(
                    StepKind.DIRECTION,
                    f"Move {name} in its {positive} direction by a hand's width, "
                    'then press Enter.',
                    name,
                )
            )
        self._steps.append(
            Step(
                StepKind.RANGE,
                'Move every joint through its whole range, slowly, then press Enter.',
            )
        )
        self._steps.append(Step(StepKind.DONE, 'Done.'))
        self._index = 0

    @property
    def step(self) -> Step:
        """Return the current step."""
        return self._steps[self._index]

    @property
    def done(self) -> bool:
        return self.step.kind is StepKind.DONE

    def feed(self, raw: Mapping[str, int | None]) -> None:
        """One reading of the servos (raw units by joint name; None where the read failed)."""
        for name, value in raw.items():
            if name not in self.latest:
                continue
            self.latest[name] = value
            # every position seen after the zero pose is a position the joint can reach
            if value is not None and self.zero:
                self.raw_min[name] = min(self.raw_min.get(name, value), value)
                self.raw_max[name] = max(self.raw_max.get(name, value), value)

    def live_line(self) -> str:
        """One line of every joint's raw reading and its angle under the calibration so far."""
        parts = []
        for name in self.joints:
            value = self.latest[name]
            if value is None:
                parts.append(f'{name} ----')
                continue
            cal = self._current(name)
            parts.append(f'{name} {value:5d} {cal.calibration.to_joint(value):+6.2f}')
        return ' | '.join(parts)

    def _current(self, name: str) -> JointCalibration:
        base = self.defaults[name]
        return replace(
            base,
            zero=self.zero.get(name, base.zero),
            direction=self.direction.get(name, base.direction),
        )

    def enter(self) -> StepOutcome:
        """Return the person pressed Enter: check the step and move on, or say what to redo."""
        step = self.step
        if step.kind is StepKind.DONE:
            return StepOutcome(True, 'Calibration finished.')
        missing = [n for n in self.joints if self.latest[n] is None]
        if missing and step.kind is not StepKind.RANGE:
            return StepOutcome(
                False,
                f'No reading from {", ".join(missing)}: '
                'check the cable and power, then press Enter again.',
            )
        if step.kind is StepKind.ZERO:
            self.zero = {n: int(self.latest[n]) for n in self.joints}  # type: ignore[arg-type]
            self.raw_min, self.raw_max = dict(self.zero), dict(self.zero)
            self._index += 1
            return StepOutcome(True, 'Zero pose recorded.')
        if step.kind is StepKind.DIRECTION:
            return self._check_direction(step.joint or '')
        return self._check_range()

    def _check_direction(self, name: str) -> StepOutcome:
        cal = self.defaults[name]
        delta = float(self.latest[name]) - self.zero[name]  # type: ignore[arg-type]
        needed = self.min_move * cal.units_per_rad
        if abs(delta) < needed:
            return StepOutcome(
                False,
                f'{name} moved {abs(delta) / cal.units_per_rad:.2f} rad; '
                f'move it at least {self.min_move:.2f} rad '
                'from the zero pose, then press Enter.',
            )
        measured = 1 if delta > 0 else -1
        self.direction[name] = measured
        self._index += 1
        if measured != cal.direction:
            self.flipped.append(name)
            return StepOutcome(
                True,
                f'{name}: direction reversed compared to the profile; flipped to {measured:+d}.',
            )
        return StepOutcome(True, f'{name}: direction {measured:+d} confirmed.')

    def _check_range(self) -> StepOutcome:
        narrow = []
        for name in self.joints:
            cal = self._current(name)
            lo, hi = self.raw_min.get(name), self.raw_max.get(name)
            if lo is None or hi is None or (hi - lo) < self.min_range * cal.units_per_rad:
                narrow.append(name)
        if narrow:
            return StepOutcome(
                False,
                f'The range of {", ".join(narrow)} is too small: move '
                f'{"it" if len(narrow) == 1 else "them"} from end to end, then press Enter.',
            )
        self._index += 1
        return StepOutcome(True, 'Ranges recorded.')

    def result(self, protocol: str, date: str | None = None) -> CalibrationFile:
        """Return the calibration file for the finished procedure."""
        if not self.done:
            raise RuntimeError('the calibration procedure is not finished')
        joints = {}
        for name in self.joints:
            cal = self._current(name)
            servo = self.servo_settings.get(name) or None
            joints[name] = replace(
                cal,
                raw_min=float(self.raw_min[name]),
                raw_max=float(self.raw_max[name]),
                servo=servo,
            )
        when = date or _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        return CalibrationFile(
            arm=self.profile.name,
            protocol=protocol,
            joints=joints,
            date=when,
            servo_ids={spec.name: spec.servo_id for spec in self.profile.all_joints},
        )
