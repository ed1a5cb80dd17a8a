"""URDF/xacro of every shipped profile: expands for each hardware, agrees with the YAML and
with the controller configuration."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from robot_touch.core.profile import ArmProfile, load_profile
from robot_touch.paths import share_dir

ARMS = ["so101", "open_manipulator_x", "servo6"]
HARDWARE = ["mock", "gazebo"]
CASES = [(a, h) for a in ARMS for h in HARDWARE]
CASE_IDS = [f"{a}-{h}" for a, h in CASES]
PLUGINS = {"mock": "mock_components/GenericSystem", "gazebo": "gz_ros2_control/GazeboSimSystem"}


@lru_cache(maxsize=None)
def profile(name: str) -> ArmProfile:
    return load_profile(name)


@lru_cache(maxsize=None)
def expanded(name: str, hardware: str) -> ET.Element:
    return ET.fromstring(profile(name).urdf_xml(hardware=hardware))


@pytest.mark.parametrize("arm,hardware", CASES, ids=CASE_IDS)
def test_xacro_expands_with_the_right_hardware_plugin(arm: str, hardware: str) -> None:
    root = expanded(arm, hardware)
    assert root.tag == "robot" and root.get("name") == arm
    plugins = [p.text for p in root.iter("plugin") if p.text and p.text.strip()]
    assert plugins == [PLUGINS[hardware]]
    gz = [p for p in root.iter("plugin") if p.get("filename") == "gz_ros2_control-system"]
    if hardware == "gazebo":
        assert len(gz) == 1
        params = gz[0].find("parameters")
        assert params is not None and Path(params.text).is_file()
        assert Path(params.text).name == f"{arm}.yaml"
    else:
        assert gz == []


@pytest.mark.parametrize("arm,hardware", CASES, ids=CASE_IDS)
def test_ros2_control_block_lists_every_joint_with_the_yaml_limits(arm: str, hardware: str) -> None:
    p = profile(arm)
    block = expanded(arm, hardware).find("ros2_control")
    assert block is not None
    joints = block.findall("joint")
    assert [j.get("name") for j in joints] == [s.name for s in p.all_joints]
    for j, spec in zip(joints, p.all_joints):
        cmd = j.find("command_interface")
        assert cmd.get("name") == "position"
        params = {e.get("name"): float(e.text) for e in cmd.findall("param")}
        assert params == pytest.approx({"min": spec.lower, "max": spec.upper})
        assert [s.get("name") for s in j.findall("state_interface")] == ["position", "velocity"]


@pytest.mark.parametrize("arm", ARMS, ids=ARMS)
def test_urdf_joint_limits_are_the_yaml_limits(arm: str) -> None:
    p = profile(arm)
    urdf = p.urdf_joints
    for spec in p.all_joints:
        u = urdf[spec.name]
        assert u["type"] == ("prismatic" if spec.prismatic else "revolute")
        assert (u["lower"], u["upper"], u["velocity"]) == pytest.approx((spec.lower, spec.upper, spec.velocity))


@pytest.mark.parametrize("arm", ARMS, ids=ARMS)
def test_geometry_is_primitives_only(arm: str) -> None:
    root = expanded(arm, "mock")
    assert list(root.iter("mesh")) == []
    for link in root.findall("link"):
        for tag in ("visual", "collision"):
            for elem in link.findall(tag):
                shapes = [g.tag for g in elem.find("geometry")]
                assert shapes and set(shapes) <= {"box", "cylinder", "sphere"}, (link.get("name"), shapes)


@pytest.mark.parametrize("arm", ARMS, ids=ARMS)
def test_chain_from_base_to_tip_is_one_tree(arm: str) -> None:
    p = profile(arm)
    parent_of = {j["child"]: j["parent"] for j in p.urdf_joints.values()}
    link = p.tip_link
    while link in parent_of and link != p.base_link:
        link = parent_of[link]
    assert link == p.base_link


@pytest.mark.parametrize("arm", ARMS, ids=ARMS)
def test_controller_config_matches_the_profile(arm: str) -> None:
    p = profile(arm)
    data = yaml.safe_load((share_dir() / "config" / "controllers" / f"{arm}.yaml").read_text())
    cm = data["/**/controller_manager"]["ros__parameters"]
    assert cm["update_rate"] > 0
    assert cm["joint_state_broadcaster"]["type"] == "joint_state_broadcaster/JointStateBroadcaster"
    assert cm["forward_position_controller"]["type"] == "position_controllers/JointGroupPositionController"
    assert cm["arm_controller"]["type"] == "joint_trajectory_controller/JointTrajectoryController"
    assert cm["gripper_controller"]["type"] == "position_controllers/JointGroupPositionController"
    fwd = data["/**/forward_position_controller"]["ros__parameters"]
    # The teleop node's default stream (include_gripper: true): arm joints, then the gripper.
    assert fwd["joints"] == p.joint_names + [p.gripper.name] and fwd["interface_name"] == "position"
    traj = data["/**/arm_controller"]["ros__parameters"]
    assert traj["joints"] == p.joint_names
    assert traj["command_interfaces"] == ["position"]
    assert traj["state_interfaces"] == ["position", "velocity"]
    grip = data["/**/gripper_controller"]["ros__parameters"]
    assert grip["joints"] == [p.gripper.name]


def test_unknown_hardware_is_refused_before_xacro_runs() -> None:
    with pytest.raises(ValueError, match="hardware must be one of"):
        profile("so101").urdf_xml(hardware="real")
