"""
Orthographic workspace views of an arm: top (x–y) and side (reach–z). Pure Python + numpy.

- :class:`Chain`: the serial chain base_link → tip_link read from the URDF (joint origins and
  axes), for the frame of every link at once. It draws the whole arm, which the IK solver's
  end-effector-only FK cannot.
- :func:`project_top` / :func:`project_side`: 3-D points → view coordinates (m). The side view
  is the vertical plane through the base axis at a given azimuth; "reach" is the signed
  distance along it.
- :class:`ReachableRegion`: where the tool can be, sampled by FK over the joint ranges, kept as
  a polar band (min/max radius per angle around a centre), so it can be drawn as a filled
  outline and asked ``contains``.
- :class:`ViewMapping`: metres ↔ pixels for one view.

:class:`~robot_touch.core.pose.Pose`, :func:`~robot_touch.core.pose.rot_x`,
:func:`~robot_touch.core.pose.rot_z` and :func:`~robot_touch.core.pose.matrix_to_quaternion`
live in :mod:`robot_touch.core.pose` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Mapping, Sequence
import xml.etree.ElementTree as ET

import numpy as np
from robot_touch.core.pose import matrix_to_quaternion, Pose, rot_x, rot_z, rpy_matrix
from robot_touch.errors import ProfileError

__all__ = [
    'Chain',
    'ChainJoint',
    'matrix_to_quaternion',
    'Pose',
    'project_side',
    'project_top',
    'ReachableRegion',
    'reachable_regions',
    'rot_x',
    'rot_z',
    'sample_configurations',
    'ViewMapping',
]

# ---------------------------------------------------------------------------- kinematic chain


def _floats(text: str | None, default: tuple[float, float, float]) -> tuple[float, float, float]:
    if not text:
        return default
    parts = [float(v) for v in text.split()]
    if len(parts) != 3:
        raise ValueError(f'expected 3 numbers, got {text!r}')
    return (parts[0], parts[1], parts[2])


@dataclass(frozen=True)
class ChainJoint:
    """One URDF joint on the base→tip path."""

    name: str
    kind: str  # revolute | continuous | prismatic | fixed
    origin: np.ndarray  # 4x4 parent → joint frame
    axis: np.ndarray  # unit vector in the joint frame


class Chain:
    """The joints from ``base_link`` to ``tip_link`` of a URDF, for fast batch FK."""

    def __init__(self, joints: Sequence[ChainJoint]) -> None:
        self.joints = tuple(joints)
        self.joint_names = [j.name for j in self.joints if j.kind != 'fixed']

    @classmethod
    def from_urdf(
        cls, xml_text: str, base_link: str, tip_link: str, source: str = 'URDF'
    ) -> 'Chain':
        """Parse the chain; ProfileError when the links are not connected."""
        try:
            root = ET.fromstring(xml_text)
        except ET.ParseError as exc:
            raise ProfileError(source, '', f'not valid XML ({exc})') from None
        by_child: dict[str, ET.Element] = {}
        for j in root.findall('joint'):
            child = j.find('child')
            if child is not None:
                by_child[child.get('link', '')] = j
        path: list[ET.Element] = []
        link = tip_link
        while link != base_link:
            j = by_child.get(link)
            if j is None:
                raise ProfileError(source, 'tip_link', f'{tip_link!r} is not below {base_link!r}')
            path.append(j)
            parent = j.find('parent')
            link = parent.get('link', '') if parent is not None else ''
        joints = []
        for j in reversed(path):
            name = j.get('name', '')
            origin = j.find('origin')
            try:
                xyz = _floats(origin.get('xyz') if origin is not None else None, (0.0, 0.0, 0.0))
                rpy = _floats(origin.get('rpy') if origin is not None else None, (0.0, 0.0, 0.0))
                axis_el = j.find('axis')
                axis = _floats(
                    axis_el.get('xyz') if axis_el is not None else None, (1.0, 0.0, 0.0)
                )
            except ValueError as exc:
                raise ProfileError(source, f'joint[{name}]', str(exc)) from None
            T = np.eye(4)
            T[:3, :3] = rpy_matrix(*rpy)
            T[:3, 3] = xyz
            a = np.array(axis, dtype=float)
            norm = float(np.linalg.norm(a))
            joints.append(
                ChainJoint(
                    name,
                    j.get('type', 'fixed'),
                    T,
                    a / norm if norm > 0 else np.array([1.0, 0, 0]),
                )
            )
        return cls(joints)

    @classmethod
    def from_profile(cls, profile) -> 'Chain':  # ArmProfile, imported lazily
        """Return the chain of an :class:`~robot_touch.core.profile.ArmProfile`."""
        return cls.from_urdf(
            profile.urdf_xml(), profile.base_link, profile.tip_link, str(profile.urdf_path)
        )

    def frames_batch(self, q: np.ndarray) -> np.ndarray:
        """
        Frames for a batch of joint vectors.

        :param q: (N, len(joint_names)) joint positions in :attr:`joint_names` order.

        :returns: (N, J+1, 4, 4): the base frame, then the frame after each chain joint (the last
            is the tip).
        """
        q = np.atleast_2d(np.asarray(q, dtype=float))
        n = q.shape[0]
        T = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
        out = [T.copy()]
        k = 0
        for j in self.joints:
            T = T @ j.origin
            if j.kind in ('revolute', 'continuous'):
                T = T @ _axis_rotations(j.axis, q[:, k])
                k += 1
            elif j.kind == 'prismatic':
                M = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
                M[:, :3, 3] = q[:, k, None] * j.axis
                T = T @ M
                k += 1
            out.append(T.copy())
        return np.stack(out, axis=1)

    def frames(self, positions: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """(J+1, 4, 4) frames for one configuration (a name → value mapping, missing joints 0)."""
        return self.frames_batch(self.vector(positions)[None, :])[0]

    def points(self, positions: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """Return the (J+1, 3) origins of the base, every joint frame and the tip: the skeleton."""
        return self.frames(positions)[:, :3, 3]

    def tip(self, positions: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """4x4 pose of the tip."""
        return self.frames(positions)[-1]

    def vector(self, positions: Mapping[str, float] | Sequence[float]) -> np.ndarray:
        """Joint values in :attr:`joint_names` order."""
        if isinstance(positions, Mapping):
            return np.array([float(positions.get(n, 0.0)) for n in self.joint_names])
        v = np.asarray(positions, dtype=float)
        if v.shape != (len(self.joint_names),):
            raise ValueError(f'expected {len(self.joint_names)} joint values, got shape {v.shape}')
        return v


def _axis_rotations(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(N, 4, 4) rotations about a unit ``axis`` (Rodrigues)."""
    x, y, z = axis
    K = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    s, c = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    R = np.eye(3) + s * K + (1 - c) * (K @ K)
    M = np.broadcast_to(np.eye(4), (len(angles), 4, 4)).copy()
    M[:, :3, :3] = R
    return M


# ---------------------------------------------------------------------------- projections


def project_top(points: np.ndarray) -> np.ndarray:
    """(N, 3) → (N, 2): x, y."""
    return np.asarray(points, dtype=float)[..., :2]


def project_side(points: np.ndarray, azimuth: float) -> np.ndarray:
    """(N, 3) → (N, 2): signed reach along ``azimuth``, z."""
    p = np.asarray(points, dtype=float)
    reach = p[..., 0] * math.cos(azimuth) + p[..., 1] * math.sin(azimuth)
    return np.stack([reach, p[..., 2]], axis=-1)


# ---------------------------------------------------------------------------- reachable region


@dataclass(frozen=True)
class ReachableRegion:
    """
    A region given as a band between two radii per angle bin around ``centre``.

    ``rmin[i]``/``rmax[i]`` cover angles ``[-pi + i*w, -pi + (i+1)*w)`` (w = 2 pi / bins); NaN
    where no sample fell.
    """

    centre: tuple[float, float]
    rmin: np.ndarray
    rmax: np.ndarray

    @classmethod
    def from_points(
        cls, uv: np.ndarray, centre: tuple[float, float], bins: int = 90, spread: int = 0
    ) -> 'ReachableRegion':
        """
        Band of the 2-D sample points ``uv`` (N, 2) around ``centre``.

        ``spread`` widens each bin to its neighbours' extremes (that many on each side): it
        smooths the outline where random samples missed the edge of a bin.
        """
        uv = np.asarray(uv, dtype=float)
        d = uv - np.asarray(centre)
        r = np.hypot(d[:, 0], d[:, 1])
        a = np.arctan2(d[:, 1], d[:, 0])
        idx = np.clip(((a + math.pi) / (2 * math.pi) * bins).astype(int), 0, bins - 1)
        rmin = np.full(bins, np.nan)
        rmax = np.full(bins, np.nan)
        for i in range(bins):
            sel = r[idx == i]
            if sel.size:
                rmin[i], rmax[i] = sel.min(), sel.max()
        if spread > 0:
            filled = ~np.isnan(rmax)
            lo, hi = rmin.copy(), rmax.copy()
            for k in range(1, spread + 1):
                for shift in (k, -k):
                    # Only between filled bins: the band must not grow into angles never reached.
                    both = filled & np.roll(filled, shift)
                    lo[both] = np.fmin(lo[both], np.roll(rmin, shift)[both])
                    hi[both] = np.fmax(hi[both], np.roll(rmax, shift)[both])
            rmin, rmax = lo, hi
        return cls((float(centre[0]), float(centre[1])), rmin, rmax)

    @property
    def bins(self) -> int:
        return len(self.rmax)

    def contains(self, u: float, v: float, margin: float = 0.0) -> bool:
        """Return True when (u, v) lies inside the band (within ``margin`` m)."""
        du, dv = u - self.centre[0], v - self.centre[1]
        r = math.hypot(du, dv)
        i = min(
            self.bins - 1, max(0, int((math.atan2(dv, du) + math.pi) / (2 * math.pi) * self.bins))
        )
        lo, hi = self.rmin[i], self.rmax[i]
        if math.isnan(hi):
            return False
        return lo - margin <= r <= hi + margin

    def quads(self) -> list[tuple[tuple[float, float], ...]]:
        """Return the band as one quad per filled angle bin, 4 corner points each (m)."""
        out = []
        w = 2 * math.pi / self.bins
        cu, cv = self.centre
        for i in range(self.bins):
            lo, hi = self.rmin[i], self.rmax[i]
            if math.isnan(hi):
                continue
            a0, a1 = -math.pi + i * w, -math.pi + (i + 1) * w
            pts = ((lo, a0), (hi, a0), (hi, a1), (lo, a1))
            out.append(tuple((cu + r * math.cos(a), cv + r * math.sin(a)) for r, a in pts))
        return out

    def bounds(self) -> tuple[float, float, float, float]:
        """(umin, vmin, umax, vmax) of the band's corners."""
        pts = np.array([p for q in self.quads() for p in q]) if self.quads() else np.zeros((1, 2))
        return (
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        )


def sample_configurations(
    lower: Sequence[float], upper: Sequence[float], n: int, seed: int = 0
) -> np.ndarray:
    """(n, J) joint vectors spread over the limits: the corners of the box, then random ones."""
    lo, hi = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    rng = np.random.default_rng(seed)
    return lo + rng.random((n, len(lo))) * (hi - lo)


def reachable_regions(
    chain: Chain,
    lower: Sequence[float],
    upper: Sequence[float],
    samples: int = 20000,
    bins: int = 120,
) -> tuple[ReachableRegion, ReachableRegion]:
    """
    Top-view and side-view regions of the tip, sampled by FK.

    The top region is centred on the base axis; the side region on the first joint after the
    base that is not on the base axis (the shoulder), seen in the arm's own plane.
    """
    q = sample_configurations(lower, upper, samples)
    frames = chain.frames_batch(q)
    tips = frames[:, -1, :3, 3]
    top = ReachableRegion.from_points(project_top(tips), (0.0, 0.0), bins, spread=1)
    # Each sample is seen in the plane of its own first joint (a pan about z), so the side
    # region is the same whatever the pan: reach along the arm, height.
    moving = [i for i, j in enumerate(chain.joints) if j.kind != 'fixed']
    first = frames[:, moving[0] + 1] if moving else frames[:, 0]
    az = np.arctan2(first[:, 1, 0], first[:, 0, 0])
    reach = tips[:, 0] * np.cos(az) + tips[:, 1] * np.sin(az)
    side_uv = np.stack([reach, tips[:, 2]], axis=-1)
    # Centre the band on the shoulder (the second moving joint), around which the region is
    # star-shaped for the usual pan-pitch-... arms.
    centre = (0.0, 0.0)
    if len(moving) >= 2:
        s = chain.frames_batch(np.zeros((1, len(chain.joint_names))))[0, moving[1] + 1, :3, 3]
        centre = (float(math.hypot(s[0], s[1])), float(s[2]))
    side = ReachableRegion.from_points(side_uv, centre, bins, spread=1)
    return top, side


# ---------------------------------------------------------------------------- pixel mapping


@dataclass(frozen=True)
class ViewMapping:
    """Metres ↔ pixels for an orthographic view: ``px = origin + scale * m`` on both axes."""

    scale: float  # pixels per metre
    origin: tuple[float, float]  # pixel position of metric (0, 0)

    @classmethod
    def fit(
        cls,
        bounds: tuple[float, float, float, float],
        width: float,
        height: float,
        margin: float = 0.05,
    ) -> 'ViewMapping':
        """
        Return the mapping that shows ``bounds`` centred in a ``width`` x ``height`` pixel view.

        ``bounds`` is (umin, vmin, umax, vmax) in m; ``margin`` (a fraction of the view) is left
        free around it.
        """
        umin, vmin, umax, vmax = bounds
        du, dv = max(umax - umin, 1e-3), max(vmax - vmin, 1e-3)
        scale = max(1e-6, min(width * (1 - 2 * margin) / du, height * (1 - 2 * margin) / dv))
        ox = width / 2 - scale * (umin + umax) / 2
        oy = height / 2 - scale * (vmin + vmax) / 2
        return cls(scale, (ox, oy))

    def to_px(self, u: float, v: float) -> tuple[float, float]:
        return (self.origin[0] + self.scale * u, self.origin[1] + self.scale * v)

    def to_m(self, px: float, py: float) -> tuple[float, float]:
        return ((px - self.origin[0]) / self.scale, (py - self.origin[1]) / self.scale)
