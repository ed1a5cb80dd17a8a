"""
The URDF of an arm profile: xacro expansion, its joints, what a simulator needs of it.

Import these names from :mod:`robot_touch.core.profile`, which re-exports them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping
import xml.etree.ElementTree as ET

from robot_touch.errors import ProfileError

#: The hardware plugins the URDF's <ros2_control> block can take (xacro argument ``hardware``).
HARDWARE_CHOICES = ('mock', 'gazebo')


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
