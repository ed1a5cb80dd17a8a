"""
Checks of an arm profile beyond reading its fields.

Unknown keys, limits the servo can reach, the URDF against the YAML, what a physics
simulation needs.

Import these names from :mod:`robot_touch.core.profile`, which re-exports them.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Mapping

from robot_touch.core.profile_spec import ArmProfile, Calibration
from robot_touch.core.profile_urdf import links_missing
from robot_touch.errors import ProfileError


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


def check_against_urdf(profile: ArmProfile) -> None:
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
