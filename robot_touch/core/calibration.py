"""
Calibration files and the interactive calibration procedure, as plain Python.

A calibration file (YAML, documented in ``docs/calibration.md``) overrides, joint by joint,
the ``calibration:`` block of an arm profile: where the servo's raw reading is when the
joint is at 0 (``zero``), which way it counts (``direction``), its resolution
(``units_per_rad``) and the raw range measured on the real arm (``raw_min``/``raw_max``).

:class:`CalibrationProcedure` is the procedure ``robot-touch calibrate`` walks a person
through, written as a state machine fed with readings and key presses so that it can be
tested without a terminal or an arm.

A joint's ``servo:`` block records the servo-side settings the readings depend on (Homing
Offset, Min/Max Position Limit, drive mode; :mod:`robot_touch.core.servo_settings`), which
the bridge checks at connect. A LeRobot calibration file is recognised and refused with the
command that converts it (:mod:`robot_touch.core.lerobot_calibration`).

(Over 400 lines: the file format and the procedure that writes it are kept in one module;
the module split of this package is a later change of the layout.)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import datetime as _dt
from enum import Enum
import math
from pathlib import Path
from typing import Any, Mapping

from robot_touch.core.profile import ArmProfile, Calibration, JointSpec
from robot_touch.core.servo_settings import CALIBRATION_REGISTERS
from robot_touch.errors import ProfileError
from robot_touch.paths import user_data_dir
import yaml

#: version of the file layout; bumped when a field changes meaning
FORMAT_VERSION = 1


class CalibrationError(ProfileError):
    """A calibration file that cannot be used; names the file and the field at fault."""


@dataclass(frozen=True)
class JointCalibration:
    """
    Calibration of one joint: the linear map plus the raw range measured on the arm.

    ``raw = zero + direction * units_per_rad * position``; ``raw_min``/``raw_max`` (None when
    not measured) bound the goals the bridge will ever send; ``servo`` holds the servo-side
    settings (register name -> value) the calibration was made with (None: not recorded).
    """

    zero: float
    direction: int
    units_per_rad: float
    raw_min: float | None = None
    raw_max: float | None = None
    servo: Mapping[str, int] | None = None

    @property
    def calibration(self) -> Calibration:
        """Return the profile-style linear map."""
        return Calibration(
            zero=self.zero, direction=self.direction, units_per_rad=self.units_per_rad
        )

    def joint_range(self) -> tuple[float, float] | None:
        """
        Return the measured raw range in joint units (rad or m), lower first.

        :returns: ``(lower, upper)``, or None if not measured.
        """
        if self.raw_min is None or self.raw_max is None:
            return None
        a, b = self.calibration.to_joint(self.raw_min), self.calibration.to_joint(self.raw_max)
        return (min(a, b), max(a, b))

    @classmethod
    def from_profile(cls, spec: JointSpec) -> JointCalibration:
        c = spec.calibration
        return cls(zero=c.zero, direction=c.direction, units_per_rad=c.units_per_rad)


@dataclass
class CalibrationFile:
    """The contents of a calibration file."""

    arm: str
    protocol: str
    joints: dict[str, JointCalibration]
    date: str = ''
    servo_ids: dict[str, int] = field(default_factory=dict)

    def to_yaml(self) -> str:
        """Return the file's text, with a header comment saying what it is."""
        data: dict[str, Any] = {
            'format': FORMAT_VERSION,
            'arm': self.arm,
            'protocol': self.protocol,
            'date': self.date,
            'joints': {},
        }
        for name, jc in self.joints.items():
            entry: dict[str, Any] = {}
            if name in self.servo_ids:
                entry['servo_id'] = self.servo_ids[name]
            entry.update(
                zero=_plain(jc.zero),
                direction=jc.direction,
                units_per_rad=_plain(jc.units_per_rad),
            )
            if jc.raw_min is not None and jc.raw_max is not None:
                entry.update(raw_min=_plain(jc.raw_min), raw_max=_plain(jc.raw_max))
            if jc.servo:
                entry['servo'] = dict(jc.servo)
            data['joints'][name] = entry
        header = (
            f'# robot_touch calibration of a {self.arm} arm ({self.protocol}); '
            'written by `robot-touch calibrate`.\n'
            "# raw = zero + direction * units_per_rad * position (rad); servo: the servo's own\n"
            '# settings, checked by the bridge at connect; see docs/calibration.md\n'
        )
        return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def _plain(value: float) -> float | int:
    """Whole numbers as ints so the file reads like servo units."""
    return int(value) if float(value).is_integer() else float(value)


def default_calibration_path(arm: str) -> Path:
    """Where ``robot-touch calibrate`` writes, and the bridge looks, by default."""
    return user_data_dir() / 'calibration' / f'{arm}.yaml'


def save_calibration(cal: CalibrationFile, path: Path) -> Path:
    """Write ``cal`` to ``path`` atomically (folders created): a crash never leaves half a file."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(cal.to_yaml(), encoding='utf-8')
    tmp.replace(path)
    return path


def load_calibration(path: Path | str) -> CalibrationFile:
    """
    Read and check a calibration file.

    :raises CalibrationError: naming the file and the field at fault.
    """
    path = Path(path).expanduser()
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise CalibrationError(path, '', f'cannot read ({exc.strerror})') from None
    except yaml.YAMLError as exc:
        raise CalibrationError(
            path, '', f'not valid YAML ({getattr(exc, "problem", exc)})'
        ) from None
    return parse_calibration(data, path)


def parse_calibration(data: Any, path: Path | str = '<calibration>') -> CalibrationFile:
    """Check the parsed YAML of a calibration file and build a :class:`CalibrationFile`."""
    from robot_touch.core.lerobot_calibration import is_lerobot_calibration

    if not isinstance(data, dict):
        raise CalibrationError(path, '', 'a calibration file must be a YAML mapping')
    if is_lerobot_calibration(data):
        raise CalibrationError(
            path,
            '',
            'this is a LeRobot calibration file (motor: id, drive_mode, homing_offset, range_min, '
            f'range_max); convert it first: robot-touch calibrate --from-lerobot {path} --arm ARM',
        )
    version = data.get('format', FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise CalibrationError(
            path, 'format', f'version {version!r} is not supported (expected {FORMAT_VERSION})'
        )
    for key in ('arm', 'protocol'):
        if not isinstance(data.get(key), str) or not data[key]:
            raise CalibrationError(path, key, f'must be a non-empty string, got {data.get(key)!r}')
    joints_data = data.get('joints')
    if not isinstance(joints_data, dict) or not joints_data:
        raise CalibrationError(
            path, 'joints', 'must map each joint name to {zero, direction, units_per_rad}'
        )
    joints: dict[str, JointCalibration] = {}
    ids: dict[str, int] = {}
    for name, entry in joints_data.items():
        where = f'joints.{name}'
        if not isinstance(entry, dict):
            raise CalibrationError(
                path, where, 'must be a mapping (zero, direction, units_per_rad)'
            )

        def number(key: str, required: bool = True) -> float | None:
            value = entry.get(key)
            if value is None and not required:
                return None
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise CalibrationError(
                    path, f'{where}.{key}', f'must be a finite number, got {value!r}'
                )
            return float(value)

        direction = entry.get('direction')
        if direction not in (1, -1) or isinstance(direction, bool):
            raise CalibrationError(
                path, f'{where}.direction', f'must be 1 or -1, got {direction!r}'
            )
        units = number('units_per_rad')
        assert units is not None
        if units <= 0:
            raise CalibrationError(
                path, f'{where}.units_per_rad', f'must be positive, got {units}'
            )
        zero = number('zero')
        assert zero is not None
        raw_min, raw_max = number('raw_min', False), number('raw_max', False)
        if (raw_min is None) != (raw_max is None):
            raise CalibrationError(path, where, 'give both raw_min and raw_max, or neither')
        if raw_min is not None and raw_max is not None and not raw_min < raw_max:
            raise CalibrationError(
                path, f'{where}.raw_max', f'must be greater than raw_min ({raw_min} ≥ {raw_max})'
            )
        if 'servo_id' in entry:
            sid = entry['servo_id']
            if isinstance(sid, bool) or not isinstance(sid, int) or sid < 0:
                raise CalibrationError(
                    path, f'{where}.servo_id', f'must be an integer ≥ 0, got {sid!r}'
                )
            ids[str(name)] = sid
        joints[str(name)] = JointCalibration(
            zero,
            int(direction),
            units,
            raw_min,
            raw_max,
            _servo_settings(entry.get('servo'), path, where),
        )
    return CalibrationFile(
        arm=data['arm'],
        protocol=data['protocol'],
        joints=joints,
        date=str(data.get('date', '')),
        servo_ids=ids,
    )


def _servo_settings(value: Any, path: Path | str, where: str) -> dict[str, int] | None:
    """Return a joint's ``servo:`` block: known register names -> integers."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise CalibrationError(path, f'{where}.servo', 'must map register names to integers')
    for key, number in value.items():
        if key not in CALIBRATION_REGISTERS:
            raise CalibrationError(
                path,
                f'{where}.servo.{key}',
                f'unknown register; known: {", ".join(CALIBRATION_REGISTERS)}',
            )
        if isinstance(number, bool) or not isinstance(number, int):
            raise CalibrationError(
                path, f'{where}.servo.{key}', f'must be an integer, got {number!r}'
            )
    return dict(value)


def merge_calibration(
    profile: ArmProfile, cal: CalibrationFile | None, path: Path | str = '<calibration>'
) -> dict[str, JointCalibration]:
    """
    Per-joint calibration for every joint of ``profile`` (gripper included).

    Joints the file does not mention keep the profile's calibration. A file written for
    another arm, naming unknown joints or disagreeing on servo ids is refused rather than
    half-applied: a wrong calibration moves the real arm somewhere unexpected.
    """
    merged = {spec.name: JointCalibration.from_profile(spec) for spec in profile.all_joints}
    if cal is None:
        return merged
    if cal.arm != profile.name:
        raise CalibrationError(
            path, 'arm', f'this file calibrates {cal.arm!r}, not {profile.name!r}'
        )
    for name, jc in cal.joints.items():
        if name not in merged:
            raise CalibrationError(
                path,
                f'joints.{name}',
                f'{profile.name} has no such joint (joints: {", ".join(merged)})',
            )
        spec = profile.joint(name)
        if name in cal.servo_ids and cal.servo_ids[name] != spec.servo_id:
            raise CalibrationError(
                path,
                f'joints.{name}.servo_id',
                f"{cal.servo_ids[name]} differs from the profile's {spec.servo_id}",
            )
        merged[name] = jc
    return merged


#: ``calibration_file`` value that selects the profile's own calibration (see resolve_calibration)
PROFILE_CALIBRATION = 'profile'


def resolve_calibration(
    profile: ArmProfile, calibration_file: str | Path | None
) -> tuple[dict[str, JointCalibration], Path | None]:
    """
    Return the calibration the bridge uses, and the file it came from (None: profile defaults).

    ``calibration_file`` empty/None means the user's default file if it exists;
    :data:`PROFILE_CALIBRATION` means the profile's values, whatever files exist (the virtual
    arm: it emulates the profile, never the user's real arm).
    """
    path: Path | None
    if calibration_file == PROFILE_CALIBRATION:
        return merge_calibration(profile, None), None
    if calibration_file:
        path = Path(calibration_file).expanduser()
        if not path.is_file():
            raise CalibrationError(path, '', 'no such calibration file')
    else:
        path = default_calibration_path(profile.name)
        if not path.is_file():
            return merge_calibration(profile, None), None
    return merge_calibration(profile, load_calibration(path), path), path


# ---------------------------------------------------------------------------- procedure


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
