"""
package.xml and requirements.txt as a ROS 2 install reads them.

Every dependency is a rosdep key (else `rosdep install --from-paths src` stops at the first unknown
one and installs nothing), every package the launch files start is a dependency, and every library
setup.py needs comes from rosdep or requirements.txt.
"""

from __future__ import annotations

import ast
from pathlib import Path
import re
import xml.etree.ElementTree as ET

import yaml

ROOT = Path(__file__).resolve().parents[2]

#: Keys rosdep resolves, the ones this package uses or nearly used. Source: ros/rosdistro at
#: 8468e88 (2026-08-22): ROS packages released in both jazzy/distribution.yaml and
#: kilted/distribution.yaml, system keys from rosdep/python.yaml. (rosdep cannot run here: it
#: needs `rosdep update` from the internet.)
ROS_PACKAGE_KEYS = {
    'ament_copyright',
    'ament_flake8',
    'ament_index_python',
    'ament_pep257',
    'builtin_interfaces',
    'controller_manager',
    'diagnostic_msgs',
    'forward_command_controller',
    'geometry_msgs',
    'gz_ros2_control',
    'joint_state_broadcaster',
    'joint_trajectory_controller',
    'launch',
    'launch_ros',
    'position_controllers',
    'rcl_interfaces',
    'rclpy',
    'robot_state_publisher',
    'rosidl_parser',
    'ros_gz_bridge',
    'ros_gz_sim',
    'sensor_msgs',
    'std_msgs',
    'std_srvs',
    'trajectory_msgs',
    'visualization_msgs',
    'xacro',
}
PYTHON_KEYS = {
    'python3-cryptography',
    'python3-hypothesis',
    'python3-kivy',
    'python3-matplotlib',
    'python3-mujoco-pip',
    'python3-numpy',
    'python3-pil',
    'python3-pytest',
    'python3-pytest-timeout',
    'python3-pytest-xvfb',
    'python3-qrcode',
    'python3-scipy',
    'python3-serial',
    'python3-yaml',
}
#: Names that look like keys and are not (same source): the cause of defect reports.
NOT_KEYS = {'ament_python', 'python3-roboticstoolbox', 'python3-ruckig', 'python3-mujoco'}
#: rosdep key → the PyPI distribution it provides (rosdep/python.yaml; xacro: the ROS package
#: ships the same `xacro` module as PyPI's xacro).
KEY_TO_PYPI = {
    'python3-numpy': 'numpy',
    'python3-yaml': 'pyyaml',
    'python3-serial': 'pyserial',
    'python3-kivy': 'kivy',
    'python3-mujoco-pip': 'mujoco',
    'python3-cryptography': 'cryptography',
    'python3-qrcode': 'qrcode',
    'python3-scipy': 'scipy',
    'python3-pil': 'pillow',
    'python3-matplotlib': 'matplotlib',
    'xacro': 'xacro',
}
#: Imported, and no dependency: our own package, and LeRobot's buses loaded from the shared
#: interop folder in its own Python 3.12 venv (bench/lerobot_bus_loop.py, lerobot_interop README).
NOT_DEPENDENCIES = {'robot_touch', 'lrload'}
#: The optional Gazebo bring-up: its keys count only with ROBOT_TOUCH_GAZEBO=1 (REP-149 condition).
GAZEBO_CONDITION = '$ROBOT_TOUCH_GAZEBO == 1'
GAZEBO_KEYS = {
    'ros_gz_sim',
    'ros_gz_bridge',
    'gz_ros2_control',
    'controller_manager',
    'joint_state_broadcaster',
    'forward_command_controller',
    'joint_trajectory_controller',
}
#: The ament_python template's test dependencies (`ros2 pkg create --build-type ament_python`).
TEMPLATE_TEST_DEPENDS = {'ament_copyright', 'ament_flake8', 'ament_pep257', 'python3-pytest'}
DEPEND_TAGS = ('depend', 'build_depend', 'buildtool_depend', 'exec_depend', 'test_depend')


def _package() -> ET.Element:
    return ET.parse(ROOT / 'package.xml').getroot()


def _depends(*tags: str) -> list[str]:
    return [e.text.strip() for e in _package() if e.tag in tags]


def _distribution(requirement: str) -> str:
    return re.split(r'[<>=!~\[; ]', requirement.strip(), maxsplit=1)[0].lower().replace('_', '-')


def test_every_dependency_is_a_rosdep_key() -> None:
    keys = _depends(*DEPEND_TAGS)
    assert keys, 'package.xml lists no dependencies'
    unknown = [k for k in keys if k not in ROS_PACKAGE_KEYS | PYTHON_KEYS]
    assert not unknown, f'not rosdep keys (rosdep install would stop): {unknown}'
    assert not set(keys) & NOT_KEYS
    assert len(keys) == len(set(keys)), 'a key is listed twice'


def test_build_type_is_ament_python_without_a_buildtool_key() -> None:
    assert _depends('buildtool_depend') == []
    assert _package().findtext('export/build_type') == 'ament_python'


def test_test_depends_follow_the_ament_python_template() -> None:
    assert TEMPLATE_TEST_DEPENDS <= set(_depends('test_depend', 'depend'))


def _launch_packages(pattern: str = '*.launch.py') -> set[str]:
    """Return the ROS packages the launch files start executables of or read share files from."""
    found = set()
    for path in (ROOT / 'launch').glob(pattern):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, 'id', getattr(node.func, 'attr', ''))
            for kw in node.keywords:
                if kw.arg == 'package' and isinstance(kw.value, ast.Constant):
                    found.add(kw.value.value)
            if name in ('get_package_share_directory', 'get_package_prefix', 'FindPackageShare'):
                found.update(a.value for a in node.args if isinstance(a, ast.Constant))
    return found


def test_every_package_the_launch_files_use_is_a_run_dependency() -> None:
    used = _launch_packages()
    assert {'ros_gz_sim', 'ros_gz_bridge', 'controller_manager', 'robot_state_publisher'} <= used
    missing = used - set(_depends('depend', 'exec_depend')) - {'robot_touch'}
    assert not missing, f'launch files use packages package.xml does not depend on: {missing}'


def test_every_controller_type_comes_from_a_run_dependency() -> None:
    run = set(_depends('depend', 'exec_depend'))
    for path in sorted((ROOT / 'config' / 'controllers').glob('*.yaml')):
        manager = yaml.safe_load(path.read_text())['/**/controller_manager']['ros__parameters']
        for name, entry in manager.items():
            if isinstance(entry, dict) and 'type' in entry:
                package = entry['type'].split('/')[0]
                assert package in run, (
                    f'{path.name}: {name} is a {entry["type"]}, {package} is not in package.xml'
                )


def _install_requires() -> set[str]:
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'install_requires':
            return {_distribution(ast.literal_eval(e)) for e in node.value.elts}
    raise AssertionError('setup.py has no install_requires')


def _requirements() -> set[str]:
    lines = (ROOT / 'requirements.txt').read_text().splitlines()
    return {_distribution(line) for line in lines if line.strip() and not line.startswith('#')}


def test_every_library_comes_from_rosdep_or_requirements_txt_not_both() -> None:
    """
    On a ROS install setup.py's requirements are not installed.

    Rosdep brings those with keys, `pip install -r requirements.txt` the others (and only those:
    pip must not replace the system's numpy or kivy).
    """
    from_rosdep = {KEY_TO_PYPI[k] for k in _depends('depend', 'exec_depend') if k in KEY_TO_PYPI}
    from_pip = _requirements()
    assert not from_rosdep & from_pip
    assert _install_requires() == from_rosdep | from_pip


def _run_depends_for(environment: dict[str, str]) -> set[str]:
    """Return the run dependencies rosdep's parser (catkin_pkg) keeps in ``environment``."""
    from catkin_pkg.package import parse_package

    package = parse_package(str(ROOT / 'package.xml'))
    package.evaluate_conditions(environment)
    return {d.name for d in package.exec_depends if d.evaluated_condition}


def test_gazebo_dependencies_count_only_when_asked_for() -> None:
    """
    Check that the Gazebo keys are REP-149 conditional: left out by default, in with the variable.

    `rosdep install` evaluates the condition against the environment, so a plain install skips
    Gazebo and `ROBOT_TOUCH_GAZEBO=1 rosdep install ...` brings it (README).
    """
    assert _package().get('format') == '3', 'the condition attribute needs package format 3'
    conditions = {e.text.strip(): e.get('condition') for e in _package() if e.tag in DEPEND_TAGS}
    assert {k for k, c in conditions.items() if c} == GAZEBO_KEYS
    assert {conditions[k] for k in GAZEBO_KEYS} == {GAZEBO_CONDITION}
    plain = _run_depends_for({})
    with_gazebo = _run_depends_for({'ROBOT_TOUCH_GAZEBO': '1'})
    assert not plain & GAZEBO_KEYS, 'a plain rosdep install would still bring Gazebo'
    assert with_gazebo == plain | GAZEBO_KEYS
    assert _run_depends_for({'ROBOT_TOUCH_GAZEBO': '0'}) == plain
    # Everything the Gazebo launch file starts comes with the variable set.
    gazebo_launch = _launch_packages('gazebo.launch.py') - {'robot_touch'}
    assert gazebo_launch <= with_gazebo, gazebo_launch - with_gazebo


def _imported_top_level(folder: Path) -> dict[str, str]:
    """Return every top-level module imported under ``folder`` (function-level too) → a file."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split('.')[0], f'{path.relative_to(ROOT)}:{node.lineno}')
    return found


def test_every_interface_package_imported_is_declared_and_every_declared_one_imported() -> None:
    """Check that the interface packages (``*_msgs``, ``*_interfaces``) imported are declared."""
    imported = {
        name: where
        for name, where in _imported_top_level(ROOT / 'robot_touch').items()
        if name.endswith(('_msgs', '_srvs', '_interfaces'))
    }
    declared = {
        key
        for key in _depends('depend', 'exec_depend')
        if key.endswith(('_msgs', '_srvs', '_interfaces'))
    }
    missing = {name: where for name, where in imported.items() if name not in declared}
    assert not missing, f'imported, not in package.xml: {missing}'
    unused = declared - set(imported)
    assert not unused, f'in package.xml, never imported: {unused}'


def test_every_library_our_code_imports_is_declared_in_setup_py() -> None:
    """
    Check that a library the package imports itself is declared, not borrowed from another's.

    scipy, pillow and matplotlib came only through roboticstoolbox: an upgrade that dropped one
    would have broken IK restarts, the renderer or the plots. Optional libraries count when an
    extra declares them; ROS packages are package.xml's (checked above).
    """
    import importlib.metadata
    import sys

    distributions = importlib.metadata.packages_distributions()
    declared = _install_requires() | {
        _distribution(req) for reqs in _extras_require().values() for req in reqs
    }
    ros = set(_depends('depend', 'exec_depend'))
    undeclared = {}
    for name, where in _imported_top_level(ROOT / 'robot_touch').items():
        if name in sys.stdlib_module_names or name in ros or name in NOT_DEPENDENCIES:
            continue
        # A compiled module alone (ruckig's .so) is not always mapped: its own name then.
        dists = {_distribution(d) for d in distributions.get(name, [name])}
        if not dists & declared:
            undeclared[name] = (where, sorted(dists))
    assert not undeclared, f'imported but not declared in setup.py: {undeclared}'


def _extras_require() -> dict[str, list[str]]:
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == 'extras_require':
            return ast.literal_eval(node.value)
    raise AssertionError('setup.py has no extras_require')
