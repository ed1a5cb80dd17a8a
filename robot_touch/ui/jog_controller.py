"""
Jogging: the Up/Down buttons (a tool velocity while held) and Joint mode's sliders.

A held jog button repeats its command faster than teleop's ``jog_timeout``; a slider under a
finger sends the joints it moved, coalesced (latest wins, at most ``max_publish_rate``). Slider
readouts follow the measured arm and are not controls during free drive. Part of
:class:`robot_touch.ui.app.RobotTouchApp`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from kivy.clock import Clock
from kivy.factory import Factory
from robot_touch.core.latest_wins import LatestWins
from robot_touch.ui.widgets.slider import ActiveSlider

if TYPE_CHECKING:
    from robot_touch.ui.app import RobotTouchApp

#: how often a held jog button repeats its command (s): within teleop's jog_timeout (0.1 s),
#: after which teleop stops a jog that was not repeated
JOG_REPEAT_PERIOD = 1 / 20


class JogController:
    """The jog buttons and the joint sliders of one arm."""

    def __init__(self, app: RobotTouchApp) -> None:
        self.app = app
        self._jog_ev = None
        self._joint_out: LatestWins[dict[str, float]] = LatestWins(app.settings.max_publish_rate)
        self._pending_joints: dict[str, float] = {}
        #: joint name → its slider, once built
        self.sliders: dict[str, ActiveSlider] = {}

    # ------------------------------------------------------------------ jog buttons

    def start_jog(self, direction: float) -> None:
        """Move the tool up (+1) or down (-1) while a button is held."""
        app = self.app
        app.stop_playback()
        app.target = None
        speed = app.settings.jog_speed * direction
        self._jog_ev = Clock.schedule_interval(
            lambda _dt: app.backend.publish_jog((0.0, 0.0, speed), (0.0, 0.0, 0.0)),
            JOG_REPEAT_PERIOD,
        )
        app.backend.publish_jog((0.0, 0.0, speed), (0.0, 0.0, 0.0))

    def stop_jog(self) -> None:
        """Stop the tool (the jog button was let go)."""
        if self._jog_ev is not None:
            self._jog_ev.cancel()
            self._jog_ev = None
        self.app.backend.publish_jog((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))

    # ------------------------------------------------------------------ joint sliders

    def build_joint_sliders(self, root) -> None:
        """Fill Joint mode's panel with one slider per joint, within its limits."""
        box = root.ids.joint_box
        box.clear_widgets()
        self.sliders = {}
        for spec in self.app.profile.joints:
            row = Factory.JointRow()
            row.joint_name = spec.name
            row.unit = 'm' if spec.prismatic else 'rad'
            slider = row.ids.slider
            slider.min, slider.max = spec.lower, spec.upper
            slider.value = spec.home
            slider.bind(value=self._on_slider_value, on_release=self._on_slider_release)
            slider.joint_name = spec.name
            self.sliders[spec.name] = slider
            box.add_widget(row)

    def _on_slider_value(self, slider: ActiveSlider, value: float) -> None:
        if not slider.active:
            return
        app = self.app
        app.stop_playback()
        app.target = None
        self._pending_joints[slider.joint_name] = float(value)
        out = self._joint_out.offer(dict(self._pending_joints), time.monotonic())
        if out is not None:
            app.backend.publish_joint_target(out)

    def _on_slider_release(self, slider: ActiveSlider) -> None:
        # The last value still goes out (pending in the rate limiter); later messages from
        # other sliders must not carry this joint's old value while the arm moves on.
        self._pending_joints.pop(slider.joint_name, None)

    def forget_pending(self) -> None:
        """Drop the joints the sliders moved (another mode takes over)."""
        self._pending_joints.clear()

    def lock_sliders(self, locked: bool) -> None:
        """Make the sliders readouts only (free drive: touching them would command the arm)."""
        for slider in self.sliders.values():
            slider.disabled = locked

    def follow_arm(self) -> None:
        """Show the measured joints on the sliders no finger is on."""
        joints = self.app.joints
        for name, slider in self.sliders.items():
            if not slider.active:
                slider.value = joints[name]

    def publish_held(self, now: float) -> None:
        """Publish the joints the rate limiter held back, once their turn has come."""
        joints = self._joint_out.poll(now)
        if joints is not None:
            self.app.backend.publish_joint_target(joints)
