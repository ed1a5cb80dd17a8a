"""
What the touch app is given: its backend (the ROS side) and its settings.

Pure, no Kivy: the touch_ui node checks its start-up values (:func:`start_problem`) and builds
:class:`UiSettings` from its parameters (:meth:`UiSettings.from_values`) before Kivy is
imported. Both classes are also importable from :mod:`robot_touch.ui.app`, as they always were.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping, Protocol, Sequence

from robot_touch.core.workspace_view import Pose
from robot_touch.ui.controls import ENABLE_MODES
from robot_touch.ui.i18n import LANGUAGES
from robot_touch.ui.sizing import check_dpi, WINDOW_SIZE

#: what a setting of a fixed set of values may be (the node checks them after declaring: ROS
#: descriptors have ranges, not choices)
CHOICES: dict[str, tuple[str, ...]] = {
    'language': tuple(LANGUAGES),
    'enable_mode': ENABLE_MODES,
}


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

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> UiSettings:
        """
        Return the settings from the touch_ui node's parameter values.

        :param values: parameter name → value; it holds every field of :class:`UiSettings`
            (and more: window, demo).
        :raises KeyError: a field that ``values`` lacks.
        """
        return cls(**{field.name: values[field.name] for field in fields(cls)})


def start_problem(values: Mapping[str, Any]) -> str | None:
    """
    Return what is wrong with the touch UI's start-up values, in one line, or None.

    The checks a ROS parameter descriptor cannot state: ``window_size`` is WIDTHxHEIGHT,
    ``dpi`` is 0 or in :data:`robot_touch.ui.sizing.DPI_RANGE`, and each of :data:`CHOICES` is
    one of its values; checked in that order, the first problem is returned.

    :param values: parameter name → value (``window_size``, ``dpi`` and those of
        :data:`CHOICES` at least).
    :returns: the problem, starting with the parameter's name, or None when there is none.
    """
    size = values['window_size']
    if not WINDOW_SIZE.fullmatch(size):
        return f'window_size must be WIDTHxHEIGHT in pixels (e.g. 1280x800), got {size!r}'
    dpi_problem = check_dpi(values['dpi'])
    if dpi_problem is not None:
        return f'dpi {dpi_problem}'
    for name, allowed in CHOICES.items():
        if values[name] not in allowed:
            return f'{name} must be one of {", ".join(allowed)}, got {values[name]!r}'
    return None
