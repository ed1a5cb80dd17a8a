"""`robot-touch profiles [NAME_OR_PATH]`: list shipped arm profiles or show one."""

from __future__ import annotations

import argparse

from robot_touch.core.profile import available_profiles, load_profile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('arm', nargs='?', help='profile name or path to a profile YAML')


def run(args: argparse.Namespace) -> int:
    if not args.arm:
        for name in available_profiles():
            p = load_profile(name)
            print(
                f'{name:20s} {p.dof} DOF{" + gripper" if p.gripper else ""}, '
                f'{p.protocol} @ {p.baudrate} baud  {p.description}'
            )
        return 0
    p = load_profile(args.arm)
    print(f'{p.name}: {p.description}\n  file: {p.path}\n  urdf: {p.urdf_path}')
    print(
        f'  protocol {p.protocol} @ {p.baudrate} baud; base {p.base_link}, tip {p.tip_link}; '
        f'IK weights {list(p.task_weights)}'
    )
    for j in p.all_joints:
        unit = 'm' if j.prismatic else 'rad'
        print(
            f'  {j.name:14s} id {j.servo_id:3d}  [{j.lower:+.4f}, {j.upper:+.4f}] {unit}  '
            f'v {j.velocity:g}  a {j.acceleration:g}  j {j.jerk:g}  '
            f'cal zero {j.calibration.zero:g} '
            f'dir {j.calibration.direction:+d} {j.calibration.units_per_rad:g}/{unit}'
        )
    return 0
