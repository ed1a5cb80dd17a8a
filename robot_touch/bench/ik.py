"""
`robot-touch bench ik`: our IK next to rtb's ``ik_LM`` at its defaults and ikpy.

Two workloads per arm, the same targets for every solver:

* cold start: FK of random joints within the limits (fixed RNG seed), solved from home;
* tracking: paths of targets 1 mm apart (a random joint-space direction scaled so the tip
  moves 1 mm per step, bouncing off the limits), each solve seeded with that solver's
  previous answer.

Success means the same thing for everyone: joints inside the limits whose FK is within
1e-4 m and 1e-3 rad of the target (the targets are FK poses, so fully achievable); for an
arm whose profile gives roll no weight (open_manipulator_x) the 1e-3 rad apply to the
approach direction only, since a tool rolled by π is the same answer for it. A branch
flip is a tracking step whose answer moves a joint more than 0.2 rad. Times are wall time
around each call (median and 99th percentile, µs).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass
import math
import tempfile
import time
from typing import Any, Callable
import warnings
import xml.etree.ElementTree as ET

import numpy as np
from robot_touch.bench.stats import save_json

#: A tracking step whose answer moves some joint more than this (rad) is a branch flip.
FLIP = 0.2
#: ikpy needs ~10 ms per solve; it gets at most this many targets per workload.
IKPY_MAX = 100


@dataclass
class Row:
    arm: str
    solver: str
    workload: str
    n: int
    success_pct: float
    median_us: float
    p99_us: float
    flips: int | None
    note: str = ''


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--arm', default='all', help="profile name or path, or 'all' (every shipped profile)"
    )
    parser.add_argument('--n', type=int, default=500, help='targets per workload (default 500)')
    parser.add_argument('--seed', type=int, default=0, help='RNG seed of the targets (default 0)')
    parser.add_argument(
        '--no-ikpy', action='store_true', help='skip ikpy even when it is installed'
    )


def run(args: argparse.Namespace) -> int:
    from robot_touch.core.profile import available_profiles

    arms = available_profiles() if args.arm == 'all' else [args.arm]
    n = max(1, int(args.n))
    rows: list[Row] = []
    print(
        'machine-dependent figures; targets are FK poses (reachable), '
        'success = within 1e-4 m / 1e-3 rad'
        " on the axes the profile's task weights control"
    )
    print(
        f'{"arm":18s} {"solver":12s} {"workload":9s} {"n":>5s} {"success":>8s} '
        f'{"median µs":>10s} {"p99 µs":>9s} {"flips":>6s}  note'
    )
    for arm in arms:
        for row in bench_arm(arm, n, args.seed, use_ikpy=not args.no_ikpy):
            rows.append(row)
            flips = '-' if row.flips is None else str(row.flips)
            print(
                f'{row.arm:18s} {row.solver:12s} {row.workload:9s} {row.n:5d} '
                f'{row.success_pct:7.1f}% '
                f'{row.median_us:10.1f} {row.p99_us:9.1f} {flips:>6s}  {row.note}'
            )
    save_json(getattr(args, 'json', None), [asdict(r) for r in rows])
    return 0


# ---------------------------------------------------------------------------- workloads


def bench_arm(arm: str, n: int, seed: int, use_ikpy: bool = True) -> list[Row]:
    """All rows (solver x workload) for one arm."""
    from robot_touch.core.kinematics import ArmKinematics
    from robot_touch.core.profile import load_profile

    profile = load_profile(arm)
    kin = ArmKinematics(profile)
    rng = np.random.default_rng(seed)
    lo, hi = np.array(profile.lower), np.array(profile.upper)
    cold = [kin.fk(rng.uniform(lo, hi)) for _ in range(n)]
    track = _tracking_path(kin, rng, n)
    home = np.array(profile.home)

    roll_matters = profile.task_weights[3] > 0

    def check(q: np.ndarray | None, T: np.ndarray) -> bool:
        if q is None or not np.all((q >= lo - 1e-9) & (q <= hi + 1e-9)):
            return False
        P = kin.fk(q)
        if roll_matters:
            c = (np.trace(P[:3, :3].T @ T[:3, :3]) - 1.0) / 2.0
        else:
            # No roll joint (weight 0): the approach direction is what the arm controls; a
            # tool rolled by π (same direction, reached facing the other way) is as good.
            c = float(P[:3, 0] @ T[:3, 0])
        return bool(
            np.linalg.norm(P[:3, 3] - T[:3, 3]) <= 1e-4
            and math.acos(max(-1.0, min(1.0, c))) <= 1e-3
        )

    solvers: list[tuple[str, Callable[[np.ndarray, np.ndarray], np.ndarray | None], str]] = [
        ('robot_touch', lambda T, q0: kin.ik(T, seed=q0).q, ''),
    ]
    ets = kin.chain.ets  # the same compiled chain, called through rtb's public method

    def rtb_default(T: np.ndarray, q0: np.ndarray) -> np.ndarray | None:
        sol = ets.ik_LM(T, q0=q0)
        return np.asarray(sol.q) if sol.success else None

    solvers.append(('rtb ik_LM', rtb_default, 'defaults: tol 1e-6 on ½‖e‖², full 6-D mask'))
    if use_ikpy:
        ikpy_solve, note = _ikpy_solver(profile)
        if ikpy_solve is not None:
            solvers.append(('ikpy', ikpy_solve, note))
        else:
            solvers.append(('ikpy', None, note))  # type: ignore[arg-type]

    rows: list[Row] = []
    for name, solve, note in solvers:
        if solve is None:
            rows.append(Row(profile.name, name, 'skipped', 0, 0.0, math.nan, math.nan, None, note))
            continue
        limit = IKPY_MAX if name == 'ikpy' else n
        c = _run_cold(solve, cold[:limit], home, check)
        t = _run_track(solve, track[: limit + 1], check)
        extra = f'{note}; first {limit} targets' if limit < n else note
        rows.append(Row(profile.name, name, 'cold', *c, None, extra))
        rows.append(Row(profile.name, name, 'tracking', *t, extra))
    return rows


def _tracking_path(
    kin: Any, rng: np.random.Generator, n: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """N + 1 (joints, pose) pairs whose tip positions are ~1 mm apart."""
    lo, hi = np.array(kin.profile.lower), np.array(kin.profile.upper)
    q = lo + (hi - lo) * rng.uniform(0.3, 0.7, size=kin.dof)
    d = rng.normal(size=kin.dof)
    path = [(q.copy(), kin.fk(q))]
    while len(path) < n + 1:
        if len(path) % 100 == 0:
            d = rng.normal(size=kin.dof)  # a new direction now and then
        speed = float(np.linalg.norm(kin.jacobian(q)[:3] @ d))
        if speed < 1e-6:
            d = rng.normal(size=kin.dof)
            continue
        q_next = q + d * (0.001 / speed)
        out = (q_next < lo + 0.05) | (q_next > hi - 0.05)
        if out.any():
            d[out] = -d[out]
            continue
        q = q_next
        path.append((q.copy(), kin.fk(q)))
    return path


def _stats(times: list[float]) -> tuple[float, float]:
    a = np.array(times) * 1e6
    return float(np.median(a)), float(np.percentile(a, 99))


def _run_cold(
    solve: Callable, targets: list[np.ndarray], home: np.ndarray, check: Callable
) -> tuple:
    times, good = [], 0
    for T in targets:
        t0 = time.perf_counter()
        q = solve(T, home)
        times.append(time.perf_counter() - t0)
        good += check(q, T)
    med, p99 = _stats(times)
    return len(targets), 100.0 * good / len(targets), med, p99


def _run_track(
    solve: Callable, path: list[tuple[np.ndarray, np.ndarray]], check: Callable
) -> tuple:
    prev = path[0][0]
    times, good, flips = [], 0, 0
    for _q, T in path[1:]:
        t0 = time.perf_counter()
        q = solve(T, prev)
        times.append(time.perf_counter() - t0)
        ok = check(q, T)
        good += ok
        if q is not None:
            if float(np.max(np.abs(q - prev))) > FLIP:
                flips += 1
            prev = q
    med, p99 = _stats(times)
    return len(path) - 1, 100.0 * good / (len(path) - 1), med, p99, flips


# ---------------------------------------------------------------------------- ikpy


def _ikpy_solver(profile: Any) -> tuple[Callable | None, str]:
    """Return an ikpy chain from the same URDF (pruned to base → tip), or None and why not."""
    try:
        from ikpy.chain import Chain
    except ImportError:
        return None, 'ikpy not installed (pip install ikpy)'
    try:
        root = ET.fromstring(profile.urdf_xml())
        # ikpy follows the first child it finds; keep only the joints on base → tip.
        by_child = {j.find('child').get('link'): j for j in root.findall('joint')}
        keep, link = set(), profile.tip_link
        while link != profile.base_link:
            j = by_child[link]
            keep.add(j.get('name'))
            link = j.find('parent').get('link')
        for j in root.findall('joint'):
            if j.get('name') not in keep:
                root.remove(j)
        for e in [e for e in root if e.tag in ('ros2_control', 'gazebo')]:
            root.remove(e)
        with tempfile.NamedTemporaryFile('w', suffix='.urdf', delete=False) as fh:
            fh.write(ET.tostring(root, encoding='unicode'))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            probe = Chain.from_urdf_file(
                fh.name, base_elements=[profile.base_link], symbolic=False, jax_precompile=False
            )
            mask = [link.joint_type != 'fixed' for link in probe.links]
            chain = Chain.from_urdf_file(
                fh.name,
                base_elements=[profile.base_link],
                active_links_mask=mask,
                symbolic=False,
                jax_precompile=False,
            )
    except Exception as exc:  # any failure just skips ikpy, with the reason
        return None, f'ikpy cannot load the URDF: {exc}'
    active = np.array(mask)
    if int(active.sum()) != profile.dof:
        return None, f'ikpy found {int(active.sum())} joints, the profile has {profile.dof}'

    def solve(T: np.ndarray, q0: np.ndarray) -> np.ndarray | None:
        init = np.zeros(len(chain.links))
        init[active] = q0
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            sol = chain.inverse_kinematics(
                T[:3, 3], T[:3, :3], orientation_mode='all', initial_position=init
            )
        return np.asarray(sol)[active]

    return solve, "scipy-based, orientation_mode='all'"
