"""
Who can reach the graph over DDS: this host only by default, the network on purpose.

The same environment comes from one function (robot_touch.graph.dds_environment) for
`robot-touch run`, the operator commands and the launch files; the profile it names is a file
installed with the package.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path
import sys
import xml.etree.ElementTree as ET

import pytest
from robot_touch.graph import check_rmw, ConfigError, dds_environment, GraphConfig
from robot_touch.paths import share_dir

ROOT = Path(__file__).resolve().parents[2]
NS = {'dds': 'http://www.eprosima.com'}


def test_local_applies_the_loopback_profile_and_drops_static_peers() -> None:
    env = dds_environment('local', share='/opt/share/robot_touch')
    assert env == {
        'FASTDDS_DEFAULT_PROFILES_FILE': '/opt/share/robot_touch/config/fastdds_localhost.xml',
        'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SYSTEM_DEFAULT',
        'ROS_STATIC_PEERS': None,
        'ROS_LOCALHOST_ONLY': None,
        'FASTDDS_BUILTIN_TRANSPORTS': None,
    }
    assert dds_environment('lan') == {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'SUBNET'}


def test_the_profile_is_installed_and_binds_every_transport_to_this_host() -> None:
    path = Path(dds_environment('local')['FASTDDS_DEFAULT_PROFILES_FILE'])
    assert path.is_file() and path.parent == share_dir() / 'config'
    root = ET.parse(path).getroot()
    udp = [
        t
        for t in root.iter('{http://www.eprosima.com}transport_descriptor')
        if t.findtext('dds:type', namespaces=NS) == 'UDPv4'
    ]
    assert len(udp) == 1
    assert [a.text for a in udp[0].iter('{http://www.eprosima.com}address')] == ['127.0.0.1']
    participant = root.find('.//dds:participant', NS)
    assert participant.get('is_default_profile') == 'true'
    assert participant.findtext('.//dds:useBuiltinTransports', namespaces=NS) == 'false'
    addresses = {a.text for a in participant.iter('{http://www.eprosima.com}address')}
    assert addresses == {'127.0.0.1'}, 'discovery, initial peers and data: loopback only'
    assert 'config' in _share_tree_folders(), 'config/ is installed with the package (share_tree)'


def _share_tree_folders() -> set[str]:
    """Return the folders setup.py installs under share/ with share_tree(...), quotes aside."""
    tree = ast.parse((ROOT / 'setup.py').read_text())
    return {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'share_tree'
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }


def test_local_refuses_an_rmw_the_profile_does_not_bind() -> None:
    check_rmw('local', 'rmw_fastrtps_cpp')
    check_rmw('local', '')
    check_rmw('lan', 'rmw_cyclonedds_cpp')
    with pytest.raises(ConfigError) as err:
        check_rmw('local', 'rmw_cyclonedds_cpp')
    assert err.value.for_cli().startswith(
        '--network is local (the default), which keeps the graph on this host'
    )
    assert 'RMW_IMPLEMENTATION=rmw_cyclonedds_cpp is not Fast DDS' in str(err.value)
    with pytest.raises(ConfigError, match='network must be one of local, lan'):
        GraphConfig(network='wan')


def launch_paths() -> Path:
    """
    Return the upstream launch packages.

    $ROBOT_TOUCH_ROS2_LAUNCH, or shared/ next to the clone (CI) or next to the worktrees' folder.
    """
    candidates = (
        [Path(os.environ['ROBOT_TOUCH_ROS2_LAUNCH'])]
        if os.environ.get('ROBOT_TOUCH_ROS2_LAUNCH')
        else [
            ROOT.parent / 'shared' / 'ros2_launch',
            ROOT.parent.parent / 'shared' / 'ros2_launch',
        ]
    )
    folder = next(
        (c / 'pkgs' for c in candidates if (c / 'pkgs').is_dir()), candidates[0] / 'pkgs'
    )
    if not folder.is_dir():
        pytest.skip(
            f'upstream launch packages not found at {folder} (set ROBOT_TOUCH_ROS2_LAUNCH)'
        )
    pytest.importorskip(
        'osrf_pycommon', reason='osrf-pycommon (PyPI) is needed by the launch packages'
    )
    return folder


def stand_in_composition_interfaces(monkeypatch) -> None:
    """
    Put an import-only stand-in for composition_interfaces on the path.

    launch_ros.actions imports composition_interfaces (not on PyPI) for composable nodes,
    which bringup does not use.
    """
    try:
        import composition_interfaces.srv  # noqa: F401

        return
    except ImportError:
        pass
    import types

    package, srv = (
        types.ModuleType('composition_interfaces'),
        types.ModuleType('composition_interfaces.srv'),
    )
    stand_in = type(
        'StandIn', (), {'Request': type('Request', (), {}), 'Response': type('Response', (), {})}
    )
    srv.LoadNode = srv.UnloadNode = srv.ListNodes = stand_in
    package.srv = srv
    monkeypatch.setitem(sys.modules, 'composition_interfaces', package)
    monkeypatch.setitem(sys.modules, 'composition_interfaces.srv', srv)


@pytest.mark.parametrize('network', ['local', 'lan'])
def test_the_launch_file_applies_the_same_environment_first(
    network: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.syspath_prepend(str(launch_paths()))
    stand_in_composition_interfaces(monkeypatch)
    from launch import LaunchContext
    from launch.actions import LogInfo, SetEnvironmentVariable, UnsetEnvironmentVariable

    # An ament prefix whose share/robot_touch is this checkout (as a colcon install's is).
    (tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'robot_touch').touch()
    (tmp_path / 'share' / 'robot_touch').symlink_to(ROOT)
    monkeypatch.setenv('AMENT_PREFIX_PATH', str(tmp_path))
    spec = importlib.util.spec_from_file_location(
        'bringup_launch', ROOT / 'launch' / 'bringup.launch.py'
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    declared = {
        a.name: a
        for a in module.generate_launch_description().entities
        if hasattr(a, 'default_value')
    }
    assert 'network' in declared
    context = LaunchContext()
    # Every declared argument at its default, as `ros2 launch` would leave it.
    settings = {
        name: ''.join(s.perform(context) for s in argument.default_value)
        for name, argument in declared.items()
    }
    settings.update(ui='false', network=network)
    context.launch_configurations.update(settings)
    actions = module._graph(context)
    expected = dds_environment(network, tmp_path / 'share' / 'robot_touch')
    env_actions = actions[: len(expected)]
    got = {}
    for action in env_actions:
        assert isinstance(action, (SetEnvironmentVariable, UnsetEnvironmentVariable))
        name = ''.join(s.perform(context) for s in action.name)
        got[name] = (
            ''.join(s.perform(context) for s in action.value)
            if isinstance(action, SetEnvironmentVariable)
            else None
        )
    assert got == expected
    warnings = [a for a in actions if isinstance(a, LogInfo)]
    assert bool(warnings) == (network == 'lan')
