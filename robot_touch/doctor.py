"""
`robot-touch doctor`: what is there, what is missing, and the fix for each.

Each check returns a :class:`Check`; nothing here changes the machine.
"""

from __future__ import annotations

from dataclasses import dataclass
import grp
import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from typing import Callable

OK, WARN, FAIL = 'ok', 'warn', 'FAIL'


@dataclass
class Check:
    """One line of the report: what was checked, how it went, and what to do about it."""

    name: str
    status: str
    detail: str
    fix: str = ''


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    in_venv = sys.prefix != sys.base_prefix
    detail = f'Python {sys.version.split()[0]} at {sys.executable}' + (
        ' (virtual environment)' if in_venv else ''
    )
    if sys.version_info < (3, 10):
        return Check('python', FAIL, detail, 'use Python 3.10 or newer')
    return Check('python', OK, detail)


def check_ros() -> Check:
    """Where rclpy comes from (PyPI wheels or a system install) and whether it initialises."""
    try:
        spec = importlib.util.find_spec('rclpy')
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        fix = (
            "pip install -e '.[ros]' (ROS 2 Kilted wheels) "
            'or `source /opt/ros/<distro>/setup.bash`'
        )
        return Check('ros2', FAIL, 'rclpy not importable', fix)
    origin = spec.origin or ''
    if origin.startswith('/opt/ros/'):
        source = f'system install ({origin.split("/")[3]})'
    elif _version('ros-kilted-rclpy'):
        source = f'PyPI wheels (ros-kilted-rclpy {_version("ros-kilted-rclpy")})'
    else:
        source = f'from {os.path.dirname(origin)}'
    rmw = os.environ.get('RMW_IMPLEMENTATION', '')
    probe = (
        'import rclpy; from rclpy.utilities import get_rmw_implementation_identifier as g; '
        'rclpy.init(); print(g()); rclpy.shutdown()'
    )
    try:
        result = subprocess.run(
            [sys.executable, '-c', probe], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return Check(
            'ros2',
            FAIL,
            f'rclpy {source}: init hung for 30 s',
            'check RMW_IMPLEMENTATION and the DDS install',
        )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ['unknown error'])[-1]
        fix = 'pip install ros-kilted-rmw-fastrtps-cpp (the RMW must be installed explicitly)'
        return Check('ros2', FAIL, f'rclpy {source} does not start: {last}', fix)
    used = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else rmw or '?'
    domain = os.environ.get('ROS_DOMAIN_ID', '0 (default)')
    scope = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', 'SUBNET (default)')
    if used not in ('rmw_fastrtps_cpp', 'rmw_fastrtps_dynamic_cpp'):
        return Check(
            'ros2',
            WARN,
            f'rclpy {source}; RMW {used}: '
            'robot-touch run keeps DDS on this host only with Fast DDS',
            'unset RMW_IMPLEMENTATION (or run with --network lan, reachable from the network)',
        )
    return Check(
        'ros2',
        OK,
        f'rclpy {source}; RMW {used}; ROS_DOMAIN_ID {domain}; discovery {scope} in this shell; '
        'robot-touch run keeps DDS on this host (config/fastdds_localhost.xml) '
        'unless --network lan',
    )


def check_display() -> Check:
    """Whether the display really answers (not only whether DISPLAY is set), and Xvfb."""
    from robot_touch.display import display_answers

    display = os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')
    xvfb = shutil.which('Xvfb')
    if display:
        answers, detail = display_answers()
        if not answers:
            fallback = 'the UI would fail to open; ' if not xvfb else ''
            return Check(
                'display',
                WARN,
                f'{detail}; {fallback}' + ('Xvfb is available' if xvfb else 'no Xvfb either'),
                'unset DISPLAY (robot-touch run then uses Xvfb) or reconnect with ssh -X',
            )
        return Check('display', OK, detail + ('; Xvfb also available' if xvfb else ''))
    if xvfb:
        return Check('display', OK, f'no display; the UI will run on Xvfb ({xvfb})')
    return Check(
        'display',
        WARN,
        'no display and no Xvfb: the UI cannot start',
        'sudo apt-get install xvfb (or run with a screen)',
    )


def check_libraries() -> Check:
    wanted = {
        'roboticstoolbox-python': 'roboticstoolbox',
        'ruckig': 'ruckig',
        'mujoco': 'mujoco',
        'kivy': 'kivy',
        'pyserial': 'serial',
        'dynamixel-sdk': 'dynamixel_sdk',
        'feetech-servo-sdk': 'scservo_sdk',
        'xacro': 'xacro',
    }
    found, missing = [], []
    for dist, module in wanted.items():
        version = _version(dist)
        if version and importlib.util.find_spec(module) is not None:
            found.append(f'{dist} {version}')
        else:
            missing.append(dist)
    if missing:
        return Check(
            'libraries', FAIL, 'missing: ' + ', '.join(missing), 'pip install -e . (or make run)'
        )
    return Check('libraries', OK, ', '.join(found))


def check_serial_ports() -> Check:
    from serial.tools import list_ports

    found = list(list_ports.comports())
    # /dev/ttyS*: the PC's built-in UARTs, listed whether or not hardware is behind them; an
    # arm's adapter is USB (ttyUSB, ttyACM) or a board UART (ttyAMA, ttyTHS): not these.
    builtin = [p for p in found if p.vid is None and re.fullmatch(r'/dev/ttyS\d+', p.device)]
    ports = [p for p in found if p not in builtin]
    if not ports:
        skipped = f' ({len(builtin)} built-in UARTs /dev/ttyS* not counted)' if builtin else ''
        return Check(
            'serial ports',
            WARN,
            f'no arm adapter found{skipped}',
            "plug in the arm's USB adapter; `robot-touch ports` lists candidates",
        )
    unusable = [p.device for p in ports if not os.access(p.device, os.R_OK | os.W_OK)]
    listing = ', '.join(f'{p.device} ({p.description})' for p in ports)
    if unusable:
        return Check(
            'serial ports',
            WARN,
            f'{listing}; no read/write permission on {", ".join(unusable)}',
            'sudo usermod -aG dialout $USER, then log out and in again',
        )
    return Check('serial ports', OK, listing)


def check_dialout() -> Check:
    if os.geteuid() == 0:
        return Check('dialout group', OK, 'running as root')
    try:
        dialout = grp.getgrnam('dialout')
    except KeyError:
        return Check('dialout group', OK, 'no dialout group on this system')
    user_groups = os.getgroups()
    if dialout.gr_gid in user_groups:
        return Check('dialout group', OK, 'you are in dialout')
    return Check(
        'dialout group',
        WARN,
        'you are not in the dialout group',
        'sudo usermod -aG dialout $USER, then log in again',
    )


def check_profiles() -> Check:
    from robot_touch.core.profile import available_profiles, load_profile
    from robot_touch.errors import RobotTouchError

    names, broken = [], []
    for name in available_profiles():
        try:
            profile = load_profile(name)
            names.append(f'{name} ({profile.dof} DOF, {profile.protocol})')
        except RobotTouchError as exc:
            broken.append(str(exc))
    if broken:
        return Check('arm profiles', FAIL, '; '.join(broken), 'fix the named file and field')
    return Check('arm profiles', OK, ', '.join(names))


CHECKS: list[Callable[[], Check]] = [
    check_python,
    check_libraries,
    check_ros,
    check_display,
    check_serial_ports,
    check_dialout,
    check_profiles,
]


def run_checks() -> list[Check]:
    """Run every check; a check that crashes is reported as FAIL, never raised."""
    results = []
    for check in CHECKS:
        try:
            results.append(check())
        except Exception as exc:  # the doctor must report, not crash
            results.append(
                Check(check.__name__.removeprefix('check_'), FAIL, f'check crashed: {exc!r}')
            )
    return results
