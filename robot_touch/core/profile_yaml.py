"""
An arm profile's YAML read into an :class:`~robot_touch.core.profile_spec.ArmProfile`.

Every field is checked as it is read, and every error names the file and the field
(:class:`robot_touch.errors.ProfileError`). The format is documented in
``config/arms/README.md``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from robot_touch.core.profile_checks import check_keys
from robot_touch.core.profile_spec import (
    ArmProfile,
    Calibration,
    CALIBRATION_KEYS,
    FREE_DRIVE_ESTOP,
    FREE_DRIVE_KEYS,
    IK_KEYS,
    JOINT_KEYS,
    JointSpec,
    TOP_KEYS,
)
from robot_touch.errors import ProfileError


def parse_profile(path: Path, data: Any) -> ArmProfile:
    """
    Return the profile the parsed YAML ``data`` of ``path`` describes.

    The URDF is not read here (:func:`~robot_touch.core.profile_checks.check_against_urdf`).

    :raises ProfileError: naming the file and the field at fault.
    """
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
