"""
Arm profiles: a YAML file (joints, limits, servos, calibration) plus a URDF/xacro description.

A profile is named (``so101``: ``config/arms/so101.yaml`` in the installed share folder) or
given as a path to the user's own YAML. Everything here is checked on load, and every error
names the file and the field (:class:`robot_touch.errors.ProfileError`).

The YAML format is documented in ``config/arms/README.md``.

The module keeps the name ``profile`` (the stdlib profiler's) because "arm profile" is the
project's word for it everywhere: the ``robot-touch profiles`` command, the ``arm`` / profile
launch arguments and ~70 imports; nothing here imports the stdlib ``profile``.
"""  # noqa: A005 - "arm profile" is the project-wide name (see the last paragraph)

from __future__ import annotations

from dataclasses import dataclass, field
import difflib
from functools import cached_property
import math
from pathlib import Path
from typing import Any, Mapping
import xml.etree.ElementTree as ET

from robot_touch.errors import ProfileError
from robot_touch.paths import share_dir
import yaml

#: The hardware plugins the URDF's <ros2_control> block can take (xacro argument ``hardware``).
HARDWARE_CHOICES = ('mock', 'gazebo')

#: Task axes in the order IK weights use them: translation x y z, rotation about x y z.
TASK_AXES = ('x', 'y', 'z', 'rx', 'ry', 'rz')

#: The keys a profile may have, at each level (config/arms/README.md): anything else is a typo.
TOP_KEYS = (
    'name',
    'description',
    'urdf',
    'base_link',
    'tip_link',
    'protocol',
    'baudrate',
    'protocol_options',
    'ik',
    'joints',
    'gripper',
    'free_drive',
)
JOINT_KEYS = (
    'servo_id',
    'lower',
    'upper',
    'velocity',
    'acceleration',
    'jerk',
    'home',
    'type',
    'calibration',
)
CALIBRATION_KEYS = ('zero', 'direction', 'units_per_rad')
IK_KEYS = ('task_weights',)
FREE_DRIVE_KEYS = ('estop',)
#: what an e-stop during free drive does: hold (torque on where the arm is) or release
FREE_DRIVE_ESTOP = ('hold', 'release')


@dataclass(frozen=True)
class Calibration:
    """
    Linear map between joint units (rad, or m for prismatic) and raw servo units.

    ``raw = zero + direction * units_per_rad * joint``
    """

    zero: float
    direction: int
    units_per_rad: float

    def to_raw(self, joint: float) -> float:
        """Joint position (rad) → raw servo units (not rounded)."""
        return self.zero + self.direction * self.units_per_rad * joint

    def to_joint(self, raw: float) -> float:
        """Raw servo units → joint position (rad)."""
        return (raw - self.zero) * self.direction / self.units_per_rad


@dataclass(frozen=True)
class JointSpec:
    """One actuated joint: its limits (REP-103 units) and its servo."""

    name: str
    servo_id: int
    lower: float
    upper: float
    velocity: float
    acceleration: float
    jerk: float
    calibration: Calibration
    prismatic: bool = False
    home: float = 0.0

    def clamp(self, value: float) -> float:
        """``value`` limited to [lower, upper]."""
        return min(self.upper, max(self.lower, value))


@dataclass(frozen=True)
class ArmProfile:
    """A loaded, validated arm profile."""

    name: str
    path: Path
    description: str
    urdf_path: Path
    base_link: str
    tip_link: str
    protocol: str
    baudrate: int
    joints: tuple[JointSpec, ...]
    gripper: JointSpec | None
    task_weights: tuple[float, ...]
    protocol_options: Mapping[str, Any] = field(default_factory=dict)
    #: an e-stop during free drive: "hold" (torque back on where the arm is) or "release"
    free_drive_estop: str = 'hold'

    @property
    def joint_names(self) -> list[str]:
        """Arm joint names in command order (the gripper is not among them)."""
        return [j.name for j in self.joints]

    @property
    def all_joints(self) -> tuple[JointSpec, ...]:
        """Arm joints, then the gripper if there is one (servo order on the bus)."""
        return self.joints + ((self.gripper,) if self.gripper else ())

    @property
    def dof(self) -> int:
        return len(self.joints)

    @property
    def home(self) -> list[float]:
        return [j.home for j in self.joints]

    @property
    def lower(self) -> list[float]:
        return [j.lower for j in self.joints]

    @property
    def upper(self) -> list[float]:
        return [j.upper for j in self.joints]

    def joint(self, name: str) -> JointSpec:
        """
        Return the arm or gripper joint called ``name``.

        :raises KeyError: naming the known joints.
        """
        for j in self.all_joints:
            if j.name == name:
                return j
        raise KeyError(
            f'{name!r} is not a joint of {self.name} '
            f'(joints: {", ".join(j.name for j in self.all_joints)})'
        )

    def urdf_xml(self, hardware: str = 'mock', **xacro_args: str) -> str:
        """
        Return the expanded URDF text (xacro processed) with the given ros2_control hardware.

        ``xacro_args`` are further xacro arguments (``namespace``, ``controllers``).
        """
        return expand_urdf(
            self.urdf_path, hardware=hardware, profile_path=self.path, xacro_args=xacro_args
        )

    @cached_property
    def urdf_joints(self) -> dict[str, dict[str, Any]]:
        """Joints of the expanded URDF: name → {type, parent, child, lower, upper, velocity}."""
        return parse_urdf_joints(self.urdf_xml(), self.urdf_path)


# ---------------------------------------------------------------------------- loading


def profiles_dir() -> Path:
    """Folder of the shipped profiles."""
    return share_dir() / 'config' / 'arms'


def available_profiles() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in profiles_dir().glob('*.yaml'))


def resolve_profile_path(name_or_path: str | Path) -> Path:
    """Return a profile name (``so101``) or a path to a YAML file → the YAML file's path."""
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    if candidate.suffix in ('.yaml', '.yml') or '/' in text or candidate.is_file():
        if not candidate.is_file():
            raise ProfileError(candidate, '', 'no such profile file')
        return candidate.resolve()
    shipped = profiles_dir() / f'{text}.yaml'
    if not shipped.is_file():
        raise ProfileError(
            text,
            '',
            f'unknown arm profile; known: {", ".join(available_profiles())} '
            '(or give a path to a .yaml)',
        )
    return shipped


def load_profile(name_or_path: str | Path) -> ArmProfile:
    """
    Load and validate an arm profile.

    :param name_or_path: a shipped profile name, or the path of a profile YAML.

    :returns: The profile, with its URDF expanded and cross-checked against the YAML.

    :raises ProfileError: naming the file and field at fault.
    """
    path = resolve_profile_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f'line {mark.line + 1}' if mark else ''
        raise ProfileError(
            path, where, f'not valid YAML ({getattr(exc, "problem", exc)})'
        ) from None
    except OSError as exc:
        raise ProfileError(path, '', f'cannot read ({exc.strerror})') from None
    profile = _parse_profile(path, data)
    _check_against_urdf(profile)
    check_goal_range(profile)
    return profile


def check_keys(path: Path, where: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
    """
    Check that every key of ``data`` is known.

    An unknown key is an error naming the nearest known one (a typo must not pass silently: a
    misspelt ``home`` would quietly leave the default).

    :raises ProfileError: for ``path``, naming the unknown key and ``where`` it is.
    """
    for key in data:
        if key in known:
            continue
        guess = difflib.get_close_matches(str(key), known, n=1)
        hint = f'; did you mean {guess[0]!r}?' if guess else f'; known keys: {", ".join(known)}'
        inside = f' in {where}' if where else ''
        raise ProfileError(path, '', f'unknown key {key!r}{inside}{hint}')


def check_goal_range(
    profile: ArmProfile, calibrations: Mapping[str, Calibration] | None = None
) -> None:
    """
    Every joint's limits, through its calibration, must map inside the protocol's goal range.

    A limit the servo cannot reach would be clamped or refused by the bus on every command
    (on an SSC-32U: ``goal 2502 ... outside 500..2500``, the arm frozen); it is a profile error.

    :param calibrations: joint name → calibration to use instead of the profile's (the bridge
        passes the user's calibration file).

    :raises ProfileError: naming the joint's limit, its raw value and the range.
    """
    low, high = _protocol_goal_range(profile)
    if low is None:
        return
    for spec in profile.all_joints:
        cal = (calibrations or {}).get(spec.name, spec.calibration)
        where = f'joints.{spec.name}' if spec in profile.joints else f'gripper.{spec.name}'
        unit = 'm' if spec.prismatic else 'rad'
        for end in ('lower', 'upper'):
            value = getattr(spec, end)
            raw = cal.to_raw(value)
            if not low - 0.5 <= raw <= high + 0.5:
                raise ProfileError(
                    profile.path,
                    f'{where}.{end}',
                    f'{value:g} {unit} is raw {raw:.0f} through the calibration '
                    f'(zero {cal.zero:g}, direction {cal.direction:+d}, '
                    f'{cal.units_per_rad:g}/{unit}): '
                    f"outside {profile.protocol}'s goal range {low}..{high}, "
                    'the servo cannot reach it',
                )


def _protocol_goal_range(profile: ArmProfile) -> tuple[int | None, int | None]:
    from robot_touch.protocols.base import ProtocolError
    from robot_touch.protocols.registry import bus_names, get_bus_class

    try:
        bus = get_bus_class(profile.protocol)
    except ProtocolError as exc:
        known = bus_names()
        guess = difflib.get_close_matches(profile.protocol, known, n=1)
        hint = f'; did you mean {guess[0]!r}?' if guess else ''
        if 'cannot be loaded' in str(exc):
            raise ProfileError(profile.path, 'protocol', str(exc)) from None
        raise ProfileError(
            profile.path,
            'protocol',
            f'unknown protocol {profile.protocol!r}{hint} (known: {", ".join(known)})',
        ) from None
    goal_range = getattr(bus, 'goal_range', None)
    return goal_range if goal_range is not None else (None, None)


def _parse_profile(path: Path, data: Any) -> ArmProfile:
    r = _Reader(path)
    if not isinstance(data, dict):
        raise ProfileError(path, '', 'a profile must be a YAML mapping')
    check_keys(path, '', data, TOP_KEYS)
    name = r.string(data, 'name')
    urdf_rel = r.string(data, 'urdf')
    urdf_path = (path.parent / urdf_rel).resolve()
    if not urdf_path.is_file():
        raise ProfileError(path, 'urdf', f'file not found: {urdf_path}')
    joints_data = r.mapping(data, 'joints')
    if not joints_data:
        raise ProfileError(path, 'joints', 'at least one joint is needed')
    joints = tuple(r.joint(f'joints.{jn}', jn, jd) for jn, jd in joints_data.items())
    gripper = None
    if data.get('gripper') is not None:
        gripper_data = r.mapping(data, 'gripper')
        if len(gripper_data) != 1:
            raise ProfileError(path, 'gripper', 'must hold exactly one joint (name: {...})')
        ((gn, gd),) = gripper_data.items()
        gripper = r.joint(f'gripper.{gn}', gn, gd)
    ids = [j.servo_id for j in joints + ((gripper,) if gripper else ())]
    if len(set(ids)) != len(ids):
        raise ProfileError(path, 'joints', f'servo ids must be unique, got {ids}')
    ik = data.get('ik') or {}
    if not isinstance(ik, dict):
        raise ProfileError(path, 'ik', 'must be a mapping')
    check_keys(path, 'ik', ik, IK_KEYS)
    weights = ik.get('task_weights', [1.0] * 6)
    if (
        not isinstance(weights, list)
        or len(weights) != 6
        or not all(isinstance(w, (int, float)) and math.isfinite(w) and w >= 0 for w in weights)
    ):
        raise ProfileError(
            path, 'ik.task_weights', 'must be 6 non-negative numbers (x y z rx ry rz)'
        )
    if sum(1 for w in weights if w > 0) > len(joints):
        raise ProfileError(
            path,
            'ik.task_weights',
            f'{len(joints)} joints cannot control {sum(1 for w in weights if w > 0)} task axes; '
            'set the weights of the axes the arm cannot reach to 0',
        )
    options = data.get('protocol_options') or {}
    if not isinstance(options, dict):
        raise ProfileError(path, 'protocol_options', 'must be a mapping')
    free_drive = data.get('free_drive') or {}
    if not isinstance(free_drive, dict):
        raise ProfileError(path, 'free_drive', 'must be a mapping')
    check_keys(path, 'free_drive', free_drive, FREE_DRIVE_KEYS)
    estop = free_drive.get('estop', 'hold')
    if estop not in FREE_DRIVE_ESTOP:
        choices = ', '.join(FREE_DRIVE_ESTOP)
        raise ProfileError(path, 'free_drive.estop', f'must be one of {choices}, got {estop!r}')
    return ArmProfile(
        name=name,
        path=path,
        description=str(data.get('description', '')).strip(),
        urdf_path=urdf_path,
        base_link=r.string(data, 'base_link'),
        tip_link=r.string(data, 'tip_link'),
        protocol=r.string(data, 'protocol'),
        baudrate=r.integer(data, 'baudrate', minimum=1),
        joints=joints,
        gripper=gripper,
        task_weights=tuple(float(w) for w in weights),
        protocol_options=options,
        free_drive_estop=estop,
    )


class _Reader:
    """Typed field access with errors that name the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _get(self, data: Mapping[str, Any], key: str, where: str) -> Any:
        if key not in data:
            raise ProfileError(self.path, where, 'missing')
        return data[key]

    def string(self, data: Mapping[str, Any], key: str, where: str | None = None) -> str:
        value = self._get(data, key, where or key)
        if not isinstance(value, str) or not value.strip():
            raise ProfileError(
                self.path, where or key, f'must be a non-empty string, got {value!r}'
            )
        return value.strip()

    def number(
        self, data: Mapping[str, Any], key: str, where: str, default: float | None = None
    ) -> float:
        if key not in data and default is not None:
            return default
        value = self._get(data, key, where)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ProfileError(self.path, where, f'must be a finite number, got {value!r}')
        return float(value)

    def integer(
        self, data: Mapping[str, Any], key: str, where: str | None = None, minimum: int = 0
    ) -> int:
        value = self._get(data, key, where or key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ProfileError(
                self.path, where or key, f'must be an integer ≥ {minimum}, got {value!r}'
            )
        return value

    def mapping(self, data: Mapping[str, Any], key: str) -> dict[str, Any]:
        value = self._get(data, key, key)
        if not isinstance(value, dict):
            raise ProfileError(self.path, key, 'must be a mapping of joint name → settings')
        return value

    def joint(self, where: str, name: Any, data: Any) -> JointSpec:
        if not isinstance(name, str) or not name:
            raise ProfileError(self.path, where, 'joint names must be strings')
        if not isinstance(data, dict):
            raise ProfileError(self.path, where, 'must be a mapping (servo_id, lower, upper, …)')
        check_keys(self.path, where, data, JOINT_KEYS)
        lower = self.number(data, 'lower', f'{where}.lower')
        upper = self.number(data, 'upper', f'{where}.upper')
        if not lower < upper:
            raise ProfileError(
                self.path, f'{where}.upper', f'must be greater than lower ({lower} ≥ {upper})'
            )
        velocity = self.number(data, 'velocity', f'{where}.velocity')
        acceleration = self.number(data, 'acceleration', f'{where}.acceleration')
        jerk = self.number(data, 'jerk', f'{where}.jerk', default=acceleration * 20.0)
        for key, value in (('velocity', velocity), ('acceleration', acceleration), ('jerk', jerk)):
            if value <= 0:
                raise ProfileError(self.path, f'{where}.{key}', f'must be positive, got {value}')
        home = self.number(
            data, 'home', f'{where}.home', default=0.0 if lower <= 0.0 <= upper else lower
        )
        if not lower <= home <= upper:
            raise ProfileError(self.path, f'{where}.home', f'{home} is outside [{lower}, {upper}]')
        cal = data.get('calibration')
        if not isinstance(cal, dict):
            raise ProfileError(
                self.path, f'{where}.calibration', 'missing (zero, direction, units_per_rad)'
            )
        check_keys(self.path, f'{where}.calibration', cal, CALIBRATION_KEYS)
        direction = cal.get('direction', 1)
        if direction not in (1, -1):
            raise ProfileError(
                self.path, f'{where}.calibration.direction', f'must be 1 or -1, got {direction!r}'
            )
        units = self.number(cal, 'units_per_rad', f'{where}.calibration.units_per_rad')
        if units <= 0:
            raise ProfileError(self.path, f'{where}.calibration.units_per_rad', 'must be positive')
        kind = data.get('type', 'revolute')
        if kind not in ('revolute', 'prismatic'):
            raise ProfileError(
                self.path, f'{where}.type', f'must be revolute or prismatic, got {kind!r}'
            )
        return JointSpec(
            name=name,
            servo_id=self.integer(data, 'servo_id', f'{where}.servo_id'),
            lower=lower,
            upper=upper,
            velocity=velocity,
            acceleration=acceleration,
            jerk=jerk,
            calibration=Calibration(
                zero=self.number(cal, 'zero', f'{where}.calibration.zero'),
                direction=int(direction),
                units_per_rad=units,
            ),
            prismatic=kind == 'prismatic',
            home=home,
        )


# ---------------------------------------------------------------------------- URDF


def expand_urdf(
    urdf_path: Path,
    hardware: str = 'mock',
    profile_path: Path | None = None,
    xacro_args: Mapping[str, str] | None = None,
) -> str:
    """
    Run xacro on ``urdf_path`` (plain .urdf files pass through) and return the XML text.

    :param urdf_path: a .urdf or .urdf.xacro file.
    :param hardware: ros2_control hardware plugin, one of :data:`HARDWARE_CHOICES`.
    :param profile_path: the profile YAML, passed to xacro as ``profile:=`` so the URDF reads its
        limits from the same file.
    :param xacro_args: further xacro arguments (name → value).
    """
    if hardware not in HARDWARE_CHOICES:
        raise ValueError(f'hardware must be one of {HARDWARE_CHOICES}, got {hardware!r}')
    text = urdf_path.read_text(encoding='utf-8')
    if 'xacro' not in text:
        return text
    import xacro  # heavy import, only when a xacro file is really expanded

    mappings = {**(xacro_args or {}), 'hardware': hardware}
    if profile_path is not None:
        mappings['profile'] = str(profile_path)
    try:
        doc = xacro.process_file(str(urdf_path), mappings=mappings)
    except Exception as exc:  # xacro raises many types; the user needs one line
        raise ProfileError(urdf_path, '', f'xacro failed: {exc}') from None
    return doc.toprettyxml(indent='  ')


def parse_urdf_joints(xml_text: str, source: Path | str) -> dict[str, dict[str, Any]]:
    """Joints of a URDF: name → {type, parent, child, lower, upper, velocity}."""
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ProfileError(source, '', f'not valid XML ({exc})') from None
    if root.tag != 'robot':
        raise ProfileError(source, '', f'root element must be <robot>, got <{root.tag}>')
    joints: dict[str, dict[str, Any]] = {}
    for j in root.findall('joint'):
        name = j.get('name', '')
        info: dict[str, Any] = {
            'type': j.get('type'),
            'parent': (j.find('parent').get('link') if j.find('parent') is not None else None),
            'child': (j.find('child').get('link') if j.find('child') is not None else None),
        }
        lim = j.find('limit')
        if lim is not None:
            for key in ('lower', 'upper', 'velocity'):
                raw = lim.get(key)
                try:
                    info[key] = float(raw) if raw is not None else None
                except ValueError:
                    raise ProfileError(
                        source, f'joint[{name}].limit.{key}', f'not a number: {raw!r}'
                    ) from None
        joints[name] = info
    return joints


def _check_against_urdf(profile: ArmProfile) -> None:
    """Check that the YAML's joints are movable URDF joints, with limits inside the URDF's."""
    urdf = profile.urdf_joints
    links = {j['child'] for j in urdf.values()} | {j['parent'] for j in urdf.values()}
    for key in ('base_link', 'tip_link'):
        link = getattr(profile, key)
        if link not in links:
            raise ProfileError(
                profile.path, key, f'link {link!r} is not in {profile.urdf_path.name}'
            )
    for spec in profile.all_joints:
        where = f'joints.{spec.name}' if spec in profile.joints else f'gripper.{spec.name}'
        u = urdf.get(spec.name)
        if u is None:
            raise ProfileError(
                profile.path, where, f'no joint of that name in {profile.urdf_path.name}'
            )
        expected = 'prismatic' if spec.prismatic else 'revolute'
        if u['type'] != expected:
            raise ProfileError(
                profile.path, where, f'is {u["type"]} in the URDF, {expected} in the YAML'
            )
        tol = 1e-6
        if u.get('lower') is not None and spec.lower < u['lower'] - tol:
            raise ProfileError(
                profile.path,
                f'{where}.lower',
                f'{spec.lower} is below the URDF limit {u["lower"]}',
            )
        if u.get('upper') is not None and spec.upper > u['upper'] + tol:
            raise ProfileError(
                profile.path,
                f'{where}.upper',
                f'{spec.upper} is above the URDF limit {u["upper"]}',
            )


def links_missing(xml_text: str, source: Path | str) -> tuple[dict[str, str], list[str]]:
    """
    Return what a simulator needs and a URDF may lack.

    :returns: (moving link → its joint, for links moved by a revolute/prismatic/continuous joint
        that have no ``<inertial>``; bodies (moved, or with mass) that have no ``<visual>``).
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise ProfileError(source, '', f'not valid XML ({exc})') from None
    moved_by = {}
    for joint in root.findall('joint'):
        child = joint.find('child')
        if joint.get('type') not in ('fixed', None) and child is not None:
            moved_by[child.get('link', '')] = joint.get('name', '')
    no_inertial, no_visual = {}, []
    for link in root.findall('link'):
        name = link.get('name', '')
        if name in moved_by and link.find('inertial') is None:
            no_inertial[name] = moved_by[name]
        # A body (mass, or moved by a joint) with nothing to draw; bare frames (world, tcp)
        # are fine.
        if link.find('visual') is None and (name in moved_by or link.find('inertial') is not None):
            no_visual.append(name)
    return no_inertial, no_visual


def check_for_simulation(profile: ArmProfile) -> list[str]:
    """
    Before a physics simulation (``--backend sim``): every moving link needs mass and inertia.

    :returns: the links without ``<visual>`` (they are invisible in a render: worth a warning).

    :raises ProfileError: a moving link without ``<inertial>``, naming it and its joint.
    """
    no_inertial, no_visual = links_missing(profile.urdf_xml(), profile.urdf_path)
    if no_inertial:
        link, joint = next(iter(no_inertial.items()))
        others = list(no_inertial)[1:]
        more = f' (and {len(others)} more: {", ".join(others)})' if others else ''
        raise ProfileError(
            profile.urdf_path,
            f'link[{link}]',
            f'moved by joint {joint!r} but has no <inertial>{more}: a physics simulation needs '
            'its mass and inertia; add <inertial> with <mass> and <inertia> '
            '(urdf/common.xacro: rt_box_link makes a link with both)',
        )
    return no_visual
