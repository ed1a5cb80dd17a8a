"""
Calibration files: the YAML format, load, save, validate, merge into a profile.

A calibration file (YAML, documented in ``docs/calibration.md``) overrides, joint by joint,
the ``calibration:`` block of an arm profile: where the servo's raw reading is when the
joint is at 0 (``zero``), which way it counts (``direction``), its resolution
(``units_per_rad``) and the raw range measured on the real arm (``raw_min``/``raw_max``).

A joint's ``servo:`` block records the servo-side settings the readings depend on (Homing
Offset, Min/Max Position Limit, drive mode; :mod:`robot_touch.core.servo_settings`), which
the bridge checks at connect. A LeRobot calibration file is recognised and refused with the
command that converts it (:mod:`robot_touch.core.lerobot_calibration`).

Import these names from :mod:`robot_touch.core.calibration`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
