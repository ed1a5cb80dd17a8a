"""ament_python package setup: the same file serves `colcon build` and `pip install`."""

import os

from setuptools import find_packages, setup

PACKAGE = 'robot_touch'


def share_tree(*folders: str) -> list[tuple[str, list[str]]]:
    """data_files entries that install each folder under share/robot_touch, keeping subfolders."""
    entries = []
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            paths = [os.path.join(root, f) for f in files if not f.endswith(('.pyc', '~'))]
            if paths:
                entries.append((os.path.join('share', PACKAGE, root), paths))
    return entries


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    include_package_data=True,
    package_data={
        PACKAGE: ['ui/*.kv', 'ui/locale/*/LC_MESSAGES/*.mo', 'ui/locale/*/LC_MESSAGES/*.po']
    },
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        *share_tree('launch', 'urdf', 'config'),
    ],
    python_requires='>=3.10',
    install_requires=[
        'numpy>=1.24',
        'pyyaml>=6.0',
        'pyserial>=3.5',
        'roboticstoolbox-python>=1.1,<1.6',  # private C API: core/kinematics/rtb_adapter.py
        'spatialmath-python>=1.1',
        'ruckig>=0.12',
        'mujoco>=3.1',
        'kivy>=2.3',
        'dynamixel-sdk>=3.7.31',
        'feetech-servo-sdk>=1.0.0',
        'xacro>=2.0',
        # Imported by our own code, not only through roboticstoolbox: scipy (IK restarts),
        # pillow (the MuJoCo renderer's PNGs), matplotlib (joint_log's plots).
        'scipy>=1.8',
        'pillow>=9.0',
        'matplotlib>=3.5',
        # The remote gateway (robot-touch run --remote) and pairing (robot-touch pair).
        'websockets>=13.0',
        'cryptography>=38',
        'qrcode>=7.4',
    ],
    extras_require={
        # ROS 2 Kilted from PyPI, for machines without a ROS install. Kept out of the
        # default requirements so a system ROS (colcon, apt) is never shadowed.
        'ros': [
            'ros-kilted-rclpy',
            'ros-kilted-rmw-fastrtps-cpp',
            'ros-kilted-std-msgs',
            'ros-kilted-sensor-msgs',
            'ros-kilted-geometry-msgs',
            'ros-kilted-trajectory-msgs',
            'ros-kilted-std-srvs',
            'ros-kilted-diagnostic-msgs',
            'ros-kilted-rcl-interfaces',
            'ros-kilted-builtin-interfaces',
            'ros-kilted-rosidl-parser',
        ],
        # osrf-pycommon and colcon: the launch tier (test/launch) runs our launch files under
        # the upstream ROS 2 launch packages (../shared/ros2_launch) from a colcon install.
        'test': [
            'pytest>=7',
            'pytest-timeout>=2.1',
            'hypothesis>=6.80',
            'pytest-xvfb>=3.0',
            'osrf-pycommon>=2.0',
            'colcon-common-extensions>=0.3',
            'roslibpy>=2.1',
            # rosdep's package.xml parser: test_package_xml evaluates the REP-149 conditions.
            'catkin-pkg>=0.5',
            # The lint gates (test/test_flake8.py, test/test_pep257.py) as ament_python
            # packages run them; ament_flake8's plugins are its exec_depends in ROS.
            'ros-kilted-ament-flake8',
            'ros-kilted-ament-pep257',
            'flake8>=7',
            'flake8-builtins>=2.5',
            'flake8-comprehensions>=3.15',
            'flake8-docstrings>=1.7',
            'flake8-import-order>=0.18',
            'flake8-quotes>=3.4',
        ],
        # The tablet app alone (robot-touch-tablet): what a tablet can carry. It imports no
        # rclpy, roboticstoolbox, mujoco, scipy or ruckig (test/remote/tablet_driver.py blocks
        # them in the tablet test of test/remote/test_gateway.py). For a lean install:
        # pip install --no-deps robot_touch, then these.
        'tablet': ['kivy>=2.3', 'numpy>=1.24', 'pyyaml>=6.0', 'roslibpy>=2.1', 'qrcode>=7.4'],
        'bench': ['ikpy>=3.3'],
    },
    zip_safe=True,
    maintainer='robot_touch developers',
    maintainer_email='dev@robot-touch.invalid',
    description='Drive a robot arm from a touchscreen with ROS 2.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'robot-touch = robot_touch.cli.main:main',
            'recorder = robot_touch.nodes.recorder:main',
            'serial_bridge = robot_touch.nodes.serial_bridge:main',
            'sim_arm = robot_touch.nodes.sim_arm:main',
            'touch_ui = robot_touch.nodes.touch_ui:main',
            'teleop = robot_touch.nodes.teleop:main',
            'gateway = robot_touch.nodes.gateway:main',
            'robot-touch-tablet = robot_touch.tablet.main:main',
        ],
        # Third-party servo protocols register in the groups "robot_touch.protocols" (host
        # side) and "robot_touch.devices" (virtual arm side): see
        # robot_touch/protocols/registry.py.
    },
)
