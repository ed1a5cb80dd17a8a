"""
Frames rigidly joined to the arm's base: where a target or a jog may be expressed.

A URDF joins its links by joints; the links reached from ``base_link`` through *fixed*
joints only (``world`` above it, a camera or table mount beside it) never move relative to
the base, so a pose given in any of them is a pose in the base frame after one constant
transform. This module reads those transforms from the URDF text (``<joint type="fixed">``
with ``<origin xyz rpy>``, URDF specification: rpy are fixed-axis roll, pitch, yaw, i.e.
R = Rz(yaw) Ry(pitch) Rx(roll)); no tf2 is needed for a rigid tree.
"""

from __future__ import annotations

from collections import deque
from typing import Any
import xml.etree.ElementTree as ET

import numpy as np
from robot_touch.core.pose import rpy_matrix


def _origin(joint: ET.Element) -> np.ndarray:
    """Return the joint's <origin> as a 4x4 transform parent → child (identity when absent)."""
    T = np.eye(4)
    origin = joint.find('origin')
    if origin is None:
        return T
    xyz = [float(v) for v in (origin.get('xyz') or '0 0 0').split()]
    roll, pitch, yaw = (float(v) for v in (origin.get('rpy') or '0 0 0').split())
    T[:3, :3] = rpy_matrix(roll, pitch, yaw)
    T[:3, 3] = xyz
    return T


def fixed_frames(urdf_xml: str, base_link: str) -> dict[str, np.ndarray]:
    """
    Every link joined to ``base_link`` by fixed joints only, with its pose in the base frame.

    :returns: link name → T (4x4): a point p in that link's frame is ``T @ p`` in ``base_link``'s.
        ``base_link`` itself maps to the identity.
    """
    root = ET.fromstring(urdf_xml)
    edges: dict[str, list[tuple[str, np.ndarray]]] = {}
    for joint in root.findall('joint'):
        if joint.get('type') != 'fixed':
            continue
        parent, child = joint.find('parent'), joint.find('child')
        if parent is None or child is None:
            continue
        p, c = parent.get('link', ''), child.get('link', '')
        T = _origin(joint)
        edges.setdefault(p, []).append((c, T))  # parent → child
        edges.setdefault(c, []).append((p, np.linalg.inv(T)))  # child → parent
    frames = {base_link: np.eye(4)}
    queue = deque([base_link])
    while queue:
        link = queue.popleft()
        for other, T in edges.get(link, []):
            if other not in frames:
                frames[other] = frames[link] @ T
                queue.append(other)
    return frames


_PROFILE_FRAMES: dict[tuple[str, str], dict[str, np.ndarray]] = {}


def base_fixed_frames(profile: Any) -> dict[str, np.ndarray]:
    """
    Return :func:`fixed_frames` of an :class:`~robot_touch.core.profile.ArmProfile`'s URDF.

    The xacro is expanded once per profile file.
    """
    key = (str(profile.path), profile.base_link)
    if key not in _PROFILE_FRAMES:
        _PROFILE_FRAMES[key] = fixed_frames(profile.urdf_xml(), profile.base_link)
    return _PROFILE_FRAMES[key]
