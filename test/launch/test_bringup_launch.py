"""
bringup.launch.py from a colcon install, run by the upstream ROS 2 launch (conftest.py).

The real virtual arm, serial bridge, MuJoCo arm and teleop come up and joint_states flow, with and
without a namespace; a required process that fails ends the launch non-zero.
"""

from __future__ import annotations

import os
from pathlib import Path
import socket
import subprocess
import time
import warnings

import pytest
from support.launch_ros import group_commands, messages, ros_node
from support.waiting import wait_until
import yaml

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(300)]

SO101_JOINTS = 'shoulder_pan shoulder_lift elbow_flex wrist_flex wrist_roll gripper'.split()
#: Generous: three Python processes importing rclpy, roboticstoolbox or MuJoCo on 2 busy cores.
UP_TIMEOUT = 120.0


def _joint_states(namespace: str) -> tuple[object, object]:
    """
    Return (the third joint_states, the first teleop/status) in ``namespace``, or None for either.

    The third, after checking that the first three are stamped one after the other: a stream.
    """
    from diagnostic_msgs.msg import DiagnosticStatus
    from sensor_msgs.msg import JointState

    prefix = f'/{namespace}' if namespace else ''
    with ros_node() as node:
        states = messages(node, JointState, f'{prefix}/joint_states', 3, UP_TIMEOUT)
        status = messages(node, DiagnosticStatus, f'{prefix}/teleop/status', 1, 30.0)
    stamps = [(m.header.stamp.sec, m.header.stamp.nanosec) for m in states]
    assert stamps == sorted(set(stamps)), stamps
    return (states[-1] if len(states) == 3 else None), (status[0] if status else None)


@pytest.mark.parametrize(
    ('backend', 'namespace'),
    [('virtual', ''), ('virtual', 'arm1'), ('sim', 'arm2')],
    ids=['virtual', 'virtual-ns', 'sim-ns'],
)
def test_backend_comes_up_from_the_install_and_joint_states_flow(
    start_launch, workspace: Path, backend: str, namespace: str
) -> None:
    args = [f'backend:={backend}', 'ui:=false'] + (
        [f'namespace:={namespace}'] if namespace else []
    )
    launch = start_launch('bringup.launch.py', *args)
    states, status = _joint_states(namespace)
    assert states is not None, f'no joint_states in /{namespace}:\n{launch.tail()}'
    assert list(states.name) == SO101_JOINTS
    assert status is not None, f'no teleop/status in /{namespace}:\n{launch.tail()}'
    # Every process was started from the colcon install, by path (not found on PATH).
    lib = workspace / 'install' / 'robot_touch' / 'lib' / 'robot_touch'
    scripts = {
        Path(argv[1]).name
        for argv in group_commands(launch.proc.pid)
        if len(argv) > 1 and argv[1].startswith(str(lib))
    }
    wanted = {'teleop'} | (
        {'robot-touch', 'serial_bridge'} if backend == 'virtual' else {'sim_arm'}
    )
    assert wanted <= scripts, (scripts, launch.tail())
    # Ctrl-C: a clean stop of the whole graph.
    assert launch.interrupt(30.0) == 0, launch.tail()
    assert wait_until(lambda: not launch.group_alive(), 15.0), group_commands(launch.proc.pid)


def test_serial_backend_drives_the_arm_on_a_pty(
    start_launch, launch_env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    """
    backend:=serial with a pty.

    The virtual arm (an emulator of the SO-101's Feetech bus) stands in for the real arm on the
    other end of the port.
    """
    link = tmp_path / 'so101.tty'
    robot_touch = workspace / 'install' / 'robot_touch' / 'lib' / 'robot_touch' / 'robot-touch'
    log = (tmp_path / 'virtual_arm.log').open('w')
    arm = subprocess.Popen(
        [str(robot_touch), 'virtual-arm', '--arm', 'so101', '--link', str(link)],
        env=launch_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        assert wait_until(link.exists, 60.0, 0.05), (tmp_path / 'virtual_arm.log').read_text()
        launch = start_launch(
            'bringup.launch.py',
            'backend:=serial',
            f'port:={link}',
            'ui:=false',
            'namespace:=bench',
        )
        states, _status = _joint_states('bench')
        assert states is not None, launch.tail()
        assert list(states.name) == SO101_JOINTS
        assert launch.interrupt(30.0) == 0, launch.tail()
    finally:
        arm.terminate()
        arm.wait(15)
        log.close()


def test_remote_adds_the_gateway_and_a_paired_client_reads_the_arm(
    start_launch, launch_env: dict[str, str], workspace: Path
) -> None:
    """
    Check that remote:=true starts the gateway from the install, reachable over TLS.

    The client trusts exactly the gateway's own certificate and authenticates with the pairing
    token the gateway wrote (as `robot-touch pair` shows them); it then reads joint_states
    through the gateway.
    """
    from support.remote import RawClient

    with socket.socket(socket.AF_INET6) as probe:  # a free port on the dual-stack address
        probe.bind(('::', 0))
        port = probe.getsockname()[1]
    launch = start_launch(
        'bringup.launch.py',
        'backend:=virtual',
        'ui:=false',
        'remote:=true',
        f'remote_port:={port}',
        'namespace:=tab',
    )
    states, _status = _joint_states('tab')
    assert states is not None, launch.tail()
    data = Path(launch_env['ROBOT_TOUCH_DATA']) / 'remote'
    token_file, cert = data / 'tab' / 'token', data / 'tls' / 'gateway.crt'
    assert wait_until(lambda: token_file.exists() and cert.exists(), 30.0), launch.tail()
    lib = workspace / 'install' / 'robot_touch' / 'lib' / 'robot_touch'
    scripts = {
        Path(argv[1]).name
        for argv in group_commands(launch.proc.pid)
        if len(argv) > 1 and argv[1].startswith(str(lib))
    }
    assert 'gateway' in scripts, (scripts, launch.tail())
    client = None
    deadline = time.monotonic() + 30.0
    while client is None and time.monotonic() < deadline:  # the gateway may still be binding
        try:
            client = RawClient(f'wss://localhost:{port}', cert)
        except OSError:
            time.sleep(0.2)
    assert client is not None, launch.tail()
    try:
        client.auth(token_file.read_text().strip())
        client.send({'op': 'subscribe', 'topic': 'joint_states', 'id': 's1'})
        frame = client.until(
            lambda f: f.get('op') == 'publish' and f.get('topic') == 'joint_states', 20.0
        )
        assert frame is not None, launch.tail()
        assert frame['msg']['name'] == SO101_JOINTS
    finally:
        client.close()
    assert launch.interrupt(30.0) == 0, launch.tail()
    assert wait_until(lambda: not launch.group_alive(), 15.0), group_commands(launch.proc.pid)


def test_a_failing_required_process_ends_the_launch_with_an_error(
    start_launch, tmp_path: Path
) -> None:
    """
    An arm profile that cannot be read.

    The virtual arm, bridge and teleop each exit with an error; the launch stops everything and
    ends non-zero, naming the process.
    """
    bad = tmp_path / 'broken_arm.yaml'
    bad.write_text('name: broken\njoints: [this is not a mapping\n')
    launch = start_launch('bringup.launch.py', f'arm:={bad}', 'ui:=false')
    code = launch.wait(UP_TIMEOUT)
    assert code != 0, launch.tail()
    assert 'required process' in launch.output() and 'exited with code' in launch.output()
    assert wait_until(lambda: not launch.group_alive(), 15.0), group_commands(launch.proc.pid)


def test_a_process_that_cannot_start_ends_the_launch_with_an_error(
    start_launch, launch_env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    """
    Check that the launch ends, non-zero, when the virtual arm's interpreter is gone.

    The virtual arm's script exists but its interpreter is gone (a venv deleted after
    colcon build): launch only logs that, so without a handler the bridge would wait for a
    pty forever. The launch must end, non-zero, and leave nothing running.
    """
    installed = workspace / 'install' / 'robot_touch'
    overlay = tmp_path / 'overlay'
    index = overlay / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    (index / 'robot_touch').write_text('')
    (overlay / 'share' / 'robot_touch').symlink_to(installed / 'share' / 'robot_touch')
    lib = overlay / 'lib' / 'robot_touch'
    lib.mkdir(parents=True)
    for script in (installed / 'lib' / 'robot_touch').iterdir():
        (lib / script.name).symlink_to(script)
    (lib / 'robot-touch').unlink()
    (lib / 'robot-touch').write_text('#!/nonexistent/python3\n')
    (lib / 'robot-touch').chmod(0o755)
    env = dict(
        launch_env,
        AMENT_PREFIX_PATH=os.pathsep.join([str(overlay), launch_env['AMENT_PREFIX_PATH']]),
    )
    launch = start_launch('bringup.launch.py', 'ui:=false', env=env)
    code = launch.wait(UP_TIMEOUT)
    assert code != 0, launch.tail()
    assert 'virtual_arm could not be started' in launch.output(), launch.tail()
    assert wait_until(lambda: not launch.group_alive(), 15.0), group_commands(launch.proc.pid)


@pytest.mark.parametrize(
    ('argument', 'message'),
    [
        ('backend:=usb', 'backend'),
        ('output:=velocity', 'output'),
    ],
    ids=['unknown-backend', 'unknown-output'],
)
def test_bad_launch_arguments_are_refused(start_launch, argument: str, message: str) -> None:
    launch = start_launch('bringup.launch.py', argument, 'ui:=false')
    assert launch.wait(60.0) != 0
    assert f'Argument "{message}" provided value' in launch.output(), launch.tail()


def test_serial_backend_without_a_port_is_refused_with_the_reason(start_launch) -> None:
    launch = start_launch('bringup.launch.py', 'backend:=serial', 'ui:=false')
    assert launch.wait(60.0) != 0
    assert 'needs a port' in launch.output(), launch.tail()


def test_launch_files_describe_without_running(ros2_launch: Path) -> None:
    """Both launch files import under the upstream packages and build their description."""
    import importlib.util

    root = Path(__file__).resolve().parents[2]
    for name in ('bringup.launch.py', 'gazebo.launch.py'):
        spec = importlib.util.spec_from_file_location(
            name.replace('.', '_'), root / 'launch' / name
        )
        module = importlib.util.module_from_spec(spec)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)  # lark's own imports (sre_parse)
            spec.loader.exec_module(module)
        description = module.generate_launch_description()
        declared = {a.name for a in description.get_launch_arguments()}
        assert {'arm', 'namespace', 'output'} <= declared


def test_installed_share_has_what_the_launch_files_read(workspace: Path) -> None:
    """Colcon installs the launch files, URDFs and every controllers file with package.xml."""
    share = workspace / 'install' / 'robot_touch' / 'share' / 'robot_touch'
    for name in (
        'package.xml',
        'launch/bringup.launch.py',
        'launch/gazebo.launch.py',
        'urdf/common.xacro',
    ):
        assert (share / name).is_file(), name
    for arm in ('so101', 'open_manipulator_x', 'servo6'):
        data = yaml.safe_load((share / 'config' / 'controllers' / f'{arm}.yaml').read_text())
        assert '/**/controller_manager' in data
