"""
The launch tier: our launch files run by the upstream ROS 2 ``launch``/``launch_ros``.

What a ROS 2 machine has and this one has not is built here, once per session:

* the upstream ``launch`` and ``launch_ros`` packages (``shared/ros2_launch`` next to the
  repository, or ``$ROBOT_TOUCH_ROS2_LAUNCH``, or ``/work/shared/ros2_launch``), with
  ``osrf-pycommon`` from PyPI and an import-only ``composition_interfaces``;
* the package built by ``colcon build`` into a temporary workspace (``install/robot_touch``),
  with the environment ``source install/setup.bash`` leaves, on top of the pip-installed ROS
  2 (the venv plays /opt/ros) and without the venv's scripts on PATH;
* stand-in executables in a temporary ament prefix for the ROS tools that are not on PyPI
  (``standins/``): they record what the launch file gave them.

``ros2 launch`` itself is ``ros2_launch.py`` here. Tests skip, saying why, where any of this is
missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Iterator

import pytest
from support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
STANDINS = HERE / 'standins'
ENV_OVERRIDE = 'ROBOT_TOUCH_ROS2_LAUNCH'
#: Where this workplace keeps shared/ when the repository is a worktree elsewhere.
WORKPLACE_SHARED = Path('/work/shared/ros2_launch')
#: package → {executable: stand-in source} (launch files are installed under share/<pkg>/launch).
STANDIN_EXECUTABLES = {
    'robot_state_publisher': {'robot_state_publisher': 'robot_state_publisher.py'},
    'ros_gz_sim': {'create': 'create.py', 'gz_standin': 'gz.py'},
    'ros_gz_bridge': {'parameter_bridge': 'parameter_bridge.py'},
    'controller_manager': {'spawner': 'spawner.py'},
}


def find_ros2_launch() -> Path | None:
    """Return the ros2_launch folder (with pkgs/launch and pkgs/launch_ros), or None."""
    candidates = [
        os.environ.get(ENV_OVERRIDE),
        REPO.parent / 'shared' / 'ros2_launch',
        WORKPLACE_SHARED,
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / 'pkgs' / 'launch_ros' / '__init__.py').is_file():
            return Path(candidate)
    return None


def missing_tools() -> str:
    """Why the tier cannot run here ("" when it can)."""
    if find_ros2_launch() is None:
        return (
            f'upstream ROS 2 launch not found (../shared/ros2_launch next to the repository, '
            f'${ENV_OVERRIDE}, or {WORKPLACE_SHARED})'
        )
    for module, package in (
        ('osrf_pycommon', 'osrf-pycommon'),
        ('lark', 'lark'),
        ('colcon_core', 'colcon-common-extensions'),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install -e '.[test]')"
    return ''


@pytest.fixture(scope='session')
def ros2_launch() -> Path:
    """Provide the ros2_launch folder; its pkgs/ is put on this process's sys.path too."""
    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    root = find_ros2_launch()
    assert root is not None
    pkgs = str(root / 'pkgs')
    standin_python = str(STANDINS / 'python')
    for path in (standin_python, pkgs):
        if path not in sys.path:
            sys.path.insert(0, path)
    return root


@pytest.fixture(scope='session')
def workspace(tmp_path_factory: pytest.TempPathFactory, ros2_launch: Path) -> Path:
    """Provide a colcon workspace with robot_touch built and installed (install/robot_touch)."""
    root = tmp_path_factory.mktemp('colcon_ws')
    command = [
        sys.executable,
        '-c',
        'import sys; from colcon_core.command import main; sys.exit(main())',
        '--log-base',
        str(root / 'log'),
        'build',
        '--paths',
        str(REPO),
        '--build-base',
        str(root / 'build'),
        '--install-base',
        str(root / 'install'),
    ]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f'colcon build failed:\n{result.stdout}\n{result.stderr}'
    return root


@pytest.fixture(scope='session')
def standin_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Provide an ament prefix with the stand-ins (``lib/<pkg>/<exe>``) and gz_sim.launch.py."""
    prefix = tmp_path_factory.mktemp('standin_prefix')
    index = prefix / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    for package, executables in STANDIN_EXECUTABLES.items():
        (index / package).write_text('')
        (prefix / 'share' / package).mkdir(parents=True)
        lib = prefix / 'lib' / package
        lib.mkdir(parents=True)
        for name, source in executables.items():
            script = lib / name
            script.write_text(f'#!{sys.executable}\n' + (STANDINS / source).read_text())
            script.chmod(0o755)
    launch_dir = prefix / 'share' / 'ros_gz_sim' / 'launch'
    launch_dir.mkdir()
    shutil.copy(STANDINS / 'gz_sim.launch.py', launch_dir / 'gz_sim.launch.py')
    return prefix


@pytest.fixture(scope='session')
def launch_env(
    workspace: Path,
    standin_prefix: Path,
    ros2_launch: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    """Provide the environment of a shell that sourced the ROS underlay and install/setup.bash."""
    venv_bin = str(Path(sys.executable).parent)
    base = dict(os.environ)
    # The venv plays the system ROS install (/opt/ros/<distro>): its ament index has rclpy and
    # the messages; the stand-ins are the ROS tools that are not on PyPI. The venv's console
    # scripts (robot-touch, teleop, ...) are not on PATH, as on a ROS machine.
    base['PATH'] = os.pathsep.join(
        p for p in base.get('PATH', '').split(os.pathsep) if p and p != venv_bin
    )
    base['AMENT_PREFIX_PATH'] = os.pathsep.join([str(standin_prefix), sys.prefix])
    base['PYTHONPATH'] = os.pathsep.join([str(STANDINS / 'python'), str(ros2_launch / 'pkgs')])
    setup = workspace / 'install' / 'setup.bash'
    shell = subprocess.run(
        ['bash', '-c', f'source "{setup}" && env -0'], env=base, capture_output=True, timeout=60
    )
    assert shell.returncode == 0, shell.stderr.decode()
    env = dict(item.split('=', 1) for item in shell.stdout.decode().split('\0') if '=' in item)
    home = tmp_path_factory.mktemp('ros_home')
    env.update(
        ROS_HOME=str(home),  # launch and node logs
        ROS_LOG_DIR=str(home / 'log'),
        ROBOT_TOUCH_DATA=str(home / 'robot_touch'),  # generated controllers files, calibration
        PYTHONUNBUFFERED='1',
    )
    env.pop('ROBOT_TOUCH_SHARE', None)
    # The installed copy, not the source tree, is what runs (from a folder outside the
    # checkout, as a user runs `ros2 launch` from the workspace root).
    where = subprocess.run(
        [sys.executable, '-c', 'import robot_touch; print(robot_touch.__file__)'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=home,
    )
    assert where.stdout.startswith(str(workspace / 'install')), where.stdout + where.stderr
    return env


class Launch:
    """One ``ros2 launch`` process (its own process group), output to a log file."""

    def __init__(self, env: dict[str, str], records: Path, log: Path, *arguments: str) -> None:
        self.records = records
        self.log = log
        records.mkdir(parents=True, exist_ok=True)
        self.argv = [sys.executable, str(HERE / 'ros2_launch.py'), *arguments]
        with log.open('w') as out:
            self.proc = subprocess.Popen(
                self.argv,
                env={**env, 'ROBOT_TOUCH_STANDIN_RECORDS': str(records)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=log.parent,  # outside the checkout: its robot_touch/ would shadow the install
            )

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def wait(self, timeout: float) -> int:
        """Return the exit code; fail the test (showing the output) if it does not end in time."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f'launch did not end within {timeout} s:\n{self.tail()}'
            ) from None

    def interrupt(self, timeout: float = 30.0) -> int:
        """
        Ctrl-C as a terminal sends it.

        SIGINT to the launch's whole process group (launch then only waits for its processes: it
        does not signal them again); returns the launch's exit code.
        """
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        return self.wait(timeout)

    def kill(self) -> None:
        """Last resort: the whole process group (the launch and what it started)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def group_alive(self) -> bool:
        """Whether any process of the launch's group is still running."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def tail(self, lines: int = 60) -> str:
        return '\n'.join(self.output().splitlines()[-lines:])

    def read_records(self, tool: str | None = None) -> list[dict]:
        """Return the stand-ins' records (of ``tool``), in start order."""
        found = []
        for path in self.records.glob('*.json'):
            data = json.loads(path.read_text())
            if tool is None or data['tool'] == tool:
                found.append(data)
        return sorted(found, key=lambda r: r['started'])

    def wait_for_records(self, predicate, timeout: float, what: str) -> list[dict]:
        """Poll the records until ``predicate(records)`` holds; fails naming ``what``."""
        result = wait_until(
            lambda: predicate(self.read_records()) and self.read_records(), timeout, 0.1
        )
        if result is None:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}:\n{self.tail()}')
        return result


@pytest.fixture
def start_launch(launch_env: dict[str, str], tmp_path: Path) -> Iterator:
    """
    Provide a function that starts a launch and returns the running :class:`Launch`.

    Called as ``start_launch("bringup.launch.py", "backend:=sim", ...)``. Every launch still
    running at the end of the test is interrupted (then killed).
    """
    started: list[Launch] = []

    def start(file_name: str, *arguments: str, env: dict[str, str] | None = None) -> Launch:
        n = len(started)
        launch = Launch(
            env or launch_env,
            tmp_path / f'records{n}',
            tmp_path / f'launch{n}.log',
            'robot_touch',
            file_name,
            *arguments,
        )
        started.append(launch)
        return launch

    yield start
    for launch in started:
        if launch.proc.poll() is None:
            try:
                launch.interrupt(30.0)
            except AssertionError:
                pass
        if launch.group_alive():
            launch.kill()
        deadline = time.monotonic() + 10
        while launch.group_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
