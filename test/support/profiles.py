"""A user's own arm profile (YAML + URDF) written to a folder, for the profile tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

USER_URDF = """<?xml version="1.0"?>
<robot name="my_arm">
  <link name="base"/>
  <link name="l1"/>
  <link name="l2"/>
  <link name="tool"/>
  <joint name="yaw" type="revolute">
    <parent link="base"/><child link="l1"/>
    <origin xyz="0 0 0.1"/><axis xyz="0 0 1"/>
    <limit lower="-2" upper="2" velocity="2" effort="1"/>
  </joint>
  <joint name="pitch" type="revolute">
    <parent link="l1"/><child link="l2"/>
    <origin xyz="0 0 0.05"/><axis xyz="0 1 0"/>
    <limit lower="-1.5" upper="1.5" velocity="2" effort="1"/>
  </joint>
  <joint name="reach" type="prismatic">
    <parent link="l2"/><child link="tool"/>
    <origin xyz="0.1 0 0"/><axis xyz="1 0 0"/>
    <limit lower="0" upper="0.1" velocity="0.1" effort="1"/>
  </joint>
</robot>
"""


def user_profile_data() -> dict[str, Any]:
    def joint(sid: int, lo: float, hi: float, **extra: Any) -> dict[str, Any]:
        return {
            'servo_id': sid,
            'lower': lo,
            'upper': hi,
            'velocity': 1.0,
            'acceleration': 2.0,
            'calibration': {'zero': 2048, 'direction': 1, 'units_per_rad': 651.8986},
            **extra,
        }

    return {
        'name': 'my_arm',
        'urdf': 'my_arm.urdf',
        'base_link': 'base',
        'tip_link': 'tool',
        'protocol': 'feetech_sts',
        'baudrate': 1000000,
        'ik': {'task_weights': [1, 1, 1, 0, 0, 0]},
        'joints': {
            'yaw': joint(1, -1.9, 1.9),
            'pitch': joint(2, -1.4, 1.4),
            'reach': joint(3, 0.0, 0.1, type='prismatic', home=0.05),
        },
    }


def write_user_profile(
    tmp_path: Path, data: dict[str, Any] | None = None, urdf: str = USER_URDF
) -> Path:
    (tmp_path / 'my_arm.urdf').write_text(urdf)
    path = tmp_path / 'my_arm.yaml'
    path.write_text(
        yaml.safe_dump(data if data is not None else user_profile_data(), sort_keys=False)
    )
    return path
