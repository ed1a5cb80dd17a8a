"""
The safety controls: E-STOP, Enable, Home, Speed, the gripper and Free drive.

Each sends its call to teleop and says so when teleop does not answer or refuses; teleop's own
state (changed on another screen, or by a parameter file) is shown here too, except for a
moment after the user changed it on this screen. Part of
:class:`robot_touch.ui.app.RobotTouchApp`, which holds the Kivy properties the controls show
(``estop_latched``, ``enabled``, ``free_drive``, ``free_drive_scope``).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from kivy.factory import Factory
from kivy.logger import Logger
from robot_touch.core.teleop_status import Code
from robot_touch.ui.feedback import answer_text
from robot_touch.ui.i18n import _

if TYPE_CHECKING:
    from robot_touch.ui.app import RobotTouchApp

#: an estop status this soon after the user released the e-stop was on its way before (s)
ESTOP_RELEASE_GRACE = 0.5
#: teleop's own value of a control the user just changed here is shown only after this (s)
USER_CHANGE_HOLD = 1.0
#: how long a refused or unanswered call stays above the status line (s)
ANSWER_SECONDS = 6.0
#: the Speed slider's range (fraction of the arm's limits)
SPEED_RANGE = (0.05, 1.0)


def _speed(fraction: float) -> float:
    low, high = SPEED_RANGE
    return min(high, max(low, float(fraction)))


class SafetyController:
    """The safety controls of the app and their sync with teleop."""

    def __init__(self, app: RobotTouchApp) -> None:
        self.app = app
        self._estop_released_at = -math.inf
        self._enable_changed_at = -math.inf
        self._speed_changed_at = -math.inf
        self._free_drive_changed_at = -math.inf
        self._syncing = False

    def _not_answering(self, answered: bool) -> None:
        if not answered:
            self.app.show_message(_('Teleop is not answering'))

    # ------------------------------------------------------------------ e-stop, enable, home

    def engage_estop(self) -> None:
        """Latch the e-stop here and ask teleop to stop the arm."""
        app = self.app
        app.stop_playback()
        app.estop_latched = True
        self._not_answering(app.backend.call_estop(True))

    def release_estop(self) -> None:
        """Release the e-stop (after the button's deliberate hold)."""
        app = self.app
        app.estop_latched = False
        self._estop_released_at = time.monotonic()
        self._not_answering(app.backend.call_estop(False))

    def set_enabled(self, enabled: bool) -> None:
        """Enable or disable motion."""
        app = self.app
        app.enabled = enabled
        self._enable_changed_at = time.monotonic()
        self._not_answering(app.backend.call_enable(enabled))

    def home(self) -> None:
        """Send the arm to its home pose."""
        app = self.app
        app.stop_playback()
        app.target = None
        self._not_answering(app.backend.call_home())

    def set_speed(self, fraction: float) -> None:
        """Set teleop's speed override (a fraction of the arm's limits, 0.05..1)."""
        fraction = _speed(fraction)
        self._speed_changed_at = time.monotonic()
        self._not_answering(self.app.backend.set_speed(fraction))

    def set_gripper(self, opening: float) -> None:
        """Open (1) or close (0) the gripper, or anything between."""
        self.app.backend.publish_gripper(min(1.0, max(0.0, float(opening))))

    def build_enable(self, root) -> None:
        """Put the Enable control of the app's mode (latched toggle or hold-to-move) in place."""
        app = self.app
        slot = root.ids.enable_slot
        slot.clear_widgets()
        if app.hold_to_move:
            button = Factory.EnableHoldButton()
            button.bind(
                on_hold_start=lambda *_: app.set_enabled(True),
                on_hold_end=lambda *_: app.set_enabled(False),
            )
        else:
            button = Factory.EnableToggle()
            button.bind(
                state=lambda _b, state: (
                    None if self._syncing else app.set_enabled(state == 'down')
                )
            )
        slot.add_widget(button)

    # ------------------------------------------------------------------ free drive

    def build_free_drive(self, root) -> None:
        """Put the Free drive control right after Home, in the safety controls."""
        home = root.ids.home
        box = Factory.FreeDriveBox()
        home.parent.add_widget(box, index=home.parent.children.index(home))
        self.app.free_drive_box = box

    def free_drive_scopes(self) -> list[str]:
        """Return what Free drive can release: the whole arm, the gripper alone, one arm joint."""
        profile = self.app.profile
        gripper = [profile.gripper.name] if profile.gripper else []
        return ['all'] + gripper + list(profile.joint_names)

    def free_drive_scope_label(self, scope: str) -> str:
        """Return the scope's name on screen (joints by their own names)."""
        if scope == 'all':
            return _('Whole arm')
        gripper = self.app.profile.gripper
        if gripper is not None and scope == gripper.name:
            return _('Gripper')
        return scope

    def choose_free_drive_scope(self, label: str) -> None:
        """Select the scope whose label the user picked (the spinner shows labels)."""
        for scope in self.free_drive_scopes():
            if self.free_drive_scope_label(scope) == label:
                self.app.free_drive_scope = scope
                return

    def set_free_drive(self, on: bool) -> None:
        """
        Turn free drive on or off.

        On: torque off for the chosen joints, the arm is moved by hand; off: torque on, holding
        where the arm is. Teleop's answer is shown when it refuses.
        """
        app = self.app
        app.stop_playback()
        app.target = None
        app.free_drive = on
        self._free_drive_changed_at = time.monotonic()
        joints = [] if app.free_drive_scope == 'all' else [app.free_drive_scope]
        call = getattr(app.backend, 'call_free_drive', None)  # a link may not offer it
        self._not_answering(call is not None and call(on, joints))

    # ------------------------------------------------------------------ teleop's side

    def follow_teleop(self, status: tuple[str, float] | None) -> None:
        """Show teleop's e-stop, its answers to our calls and its own state of the controls."""
        app = self.app
        # Another screen or the teleop side may have stopped the arm: show it latched here too.
        # Statuses that were on their way while we released are not that.
        if (
            status is not None
            and status[0] == Code.ESTOP
            and status[1] > self._estop_released_at + ESTOP_RELEASE_GRACE
        ):
            app.estop_latched = True
        self._sync_from_teleop()
        self._show_answers()

    def _show_answers(self) -> None:
        """Show a refused or unanswered call (Home while e-stopped, ...), never drop it."""
        app = self.app
        take = getattr(app.backend, 'take_answers', None)
        if take is None:
            return
        for answer in take():
            text = answer_text(answer.service, answer.success, answer.message)
            if text is not None:
                Logger.warning(f'robot_touch: {answer.service}: {answer.message}')
                app.show_message(text, seconds=ANSWER_SECONDS)

    def _sync_from_teleop(self) -> None:
        """
        Show the teleop side's own state, except for a moment after the user changed it here.

        It may have been changed elsewhere: another screen, a parameter file.
        """
        app = self.app
        values = (
            app.backend.latest_status_values()
            if hasattr(app.backend, 'latest_status_values')
            else {}
        )
        if not values or app.root is None:
            return
        now = time.monotonic()
        if (
            'enabled' in values
            and not app.hold_to_move
            and now - self._enable_changed_at > USER_CHANGE_HOLD
        ):
            enabled = values['enabled'] == 'true'
            for button in app.root.ids.enable_slot.children:
                if (button.state == 'down') != enabled:
                    self._syncing = True
                    try:
                        button.state = 'down' if enabled else 'normal'
                    finally:
                        self._syncing = False
            app.enabled = enabled
        if 'free_drive' in values and now - self._free_drive_changed_at > USER_CHANGE_HOLD:
            app.free_drive = bool(values['free_drive'])
        speed = app.root.ids.speed
        if (
            'speed_override' in values
            and not speed.active
            and now - self._speed_changed_at > USER_CHANGE_HOLD
        ):
            try:
                speed.value = _speed(values['speed_override'])
            except ValueError:
                pass
