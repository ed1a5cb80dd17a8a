"""
Test-wide settings.

Every test run gets its own ROS_DOMAIN_ID and discovery limited to this machine, so that
parallel runs, demos and CI never see each other's topics. Child processes inherit both.
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, settings
import pytest

if 'ROS_DOMAIN_ID' not in os.environ or os.environ.get('CI'):
    # Domain ids 1..101 keep the DDS ports well inside the valid range.
    os.environ['ROS_DOMAIN_ID'] = str(random.SystemRandom().randint(1, 101))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
os.environ.setdefault('KIVY_NO_ARGS', '1')
os.environ.setdefault('KIVY_NO_CONSOLELOG', '1')
os.environ.setdefault('KIVY_LOG_MODE', 'PYTHON')

settings.register_profile('ci', deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('dev', deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile('ci' if os.environ.get('CI') else 'dev')


@pytest.fixture(scope='session')
def so101():
    """Provide the shipped SO-101 profile."""
    from robot_touch.core.profile import load_profile

    return load_profile('so101')


@pytest.fixture(scope='session')
def kin(so101):
    """Kinematics of the shipped SO-101 (parsing its URDF once per run)."""
    from robot_touch.core.kinematics import ArmKinematics

    return ArmKinematics(so101)
