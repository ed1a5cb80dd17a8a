"""
Arm profiles: a YAML file (joints, limits, servos, calibration) plus a URDF/xacro description.

A profile is named (``so101``: ``config/arms/so101.yaml`` in the installed share folder) or
given as a path to the user's own YAML. Everything here is checked on load, and every error
names the file and the field (:class:`robot_touch.errors.ProfileError`).

The YAML format is documented in ``config/arms/README.md``.

The loading is here; the parts, each re-exported: :mod:`.profile_spec` (the data classes),
:mod:`.profile_yaml` (reading the YAML), :mod:`.profile_checks`, :mod:`.profile_urdf`.

The module keeps the name ``profile`` (the stdlib profiler's) because "arm profile" is the
project's word for it everywhere: the ``robot-touch profiles`` command, the ``arm`` / profile
launch arguments and ~70 imports; nothing here imports the stdlib ``profile``.
"""  # noqa: A005 - "arm profile" is the project-wide name (see the last paragraph)

from __future__ import annotations

from pathlib import Path

from robot_touch.core.profile_checks import (
    check_against_urdf,
    check_for_simulation,
    check_goal_range,
    check_keys,
)
from robot_touch.core.profile_spec import (
    ArmProfile,
    Calibration,
    CALIBRATION_KEYS,
    FREE_DRIVE_ESTOP,
    FREE_DRIVE_KEYS,
    IK_KEYS,
    JOINT_KEYS,
    JointSpec,
    TASK_AXES,
    TOP_KEYS,
)
from robot_touch.core.profile_urdf import (
    expand_urdf,
    HARDWARE_CHOICES,
    links_missing,
    parse_urdf_joints,
)
from robot_touch.core.profile_yaml import parse_profile
from robot_touch.errors import ProfileError
from robot_touch.paths import share_dir
import yaml

__all__ = [
    'ArmProfile',
    'available_profiles',
    'Calibration',
    'CALIBRATION_KEYS',
    'check_against_urdf',
    'check_for_simulation',
    'check_goal_range',
    'check_keys',
    'expand_urdf',
    'FREE_DRIVE_ESTOP',
    'FREE_DRIVE_KEYS',
    'HARDWARE_CHOICES',
    'IK_KEYS',
    'JOINT_KEYS',
    'JointSpec',
    'links_missing',
    'load_profile',
    'parse_urdf_joints',
    'profiles_dir',
    'resolve_profile_path',
    'TASK_AXES',
    'TOP_KEYS',
]


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
    profile = parse_profile(path, data)
    check_against_urdf(profile)
    check_goal_range(profile)
    return profile
