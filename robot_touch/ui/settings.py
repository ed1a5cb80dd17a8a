"""
What the touch app is given: its backend (the ROS side) and its settings.

Pure, no Kivy: the touch_ui node builds :class:`UiSettings` from its parameters before Kivy is
imported. Both are also importable from :mod:`robot_touch.ui.app`, as they always were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from robot_touch.core.workspace_view import Pose


class UiBackend(Protocol):
    """What the app needs from the ROS side. Every method is safe to call from Kivy's thread."""

    def publish_target(self, pose: Pose) -> None: ...
    def publish_jog(self, linear: Sequence[float], angular: Sequence[float]) -> None: ...
    def publish_joint_target(self, positions: Mapping[str, float]) -> None: ...
    def publish_gripper(self, opening: float) -> None: ...
    def call_estop(self, engaged: bool) -> bool: ...
    def call_enable(self, enabled: bool) -> bool: ...
    def call_home(self) -> bool: ...
    def call_free_drive(self, on: bool, joints: Sequence[str] = ()) -> bool: ...
    def set_speed(self, fraction: float) -> bool: ...
    def latest_joint_state(self) -> tuple[dict[str, float], float] | None: ...
    def latest_status(self) -> tuple[str, float] | None: ...
    def latest_status_values(self) -> dict[str, str]: ...
    def command_rate(self) -> float: ...
    def take_answers(self) -> list: ...


@dataclass
class UiSettings:
    """The app's settings (the node's parameters; see config/touch_ui.yaml)."""

    language: str = 'en'
    max_publish_rate: float = 60.0
    enable_mode: str = 'latched'  # latched | hold (robot_touch.ui.controls.ENABLE_MODES)
    pinch_gain: float = 0.08
    long_press_time: float = 0.8
    double_tap_time: float = 0.35
    jog_speed: float = 0.05
    joint_states_timeout: float = 0.5
    waypoints_file: str = ''
    #: the panel's pixels per inch; 0: as the screen reports (robot_touch/ui/sizing.py)
    dpi: float = 0.0
