"""
Waypoints: teach the arm's measured pose, list, play (once or looping), save and load.

Teaching stores the joints the arm reports (moved by touch or by hand alike), never a target;
playback sends one waypoint after the other as the arm arrives. Part of
:class:`robot_touch.ui.app.RobotTouchApp`, which holds the Kivy properties the list shows
(``waypoint_names``, ``selected_waypoint``, ``playing``, ``loop``).
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import TYPE_CHECKING

from kivy.factory import Factory
from robot_touch.core.profile import ArmProfile
from robot_touch.core.waypoints import default_path, Playback, WaypointError, WaypointList
from robot_touch.errors import RobotTouchError
from robot_touch.ui.i18n import _

if TYPE_CHECKING:
    from robot_touch.ui.app import RobotTouchApp


class WaypointController:
    """The waypoint list of one arm, its file and its playback."""

    def __init__(self, app: RobotTouchApp, profile: ArmProfile) -> None:
        self.app = app
        self.waypoints = WaypointList(joint_names=profile.joint_names)
        self.waypoints_path = (
            Path(app.settings.waypoints_file)
            if app.settings.waypoints_file
            else default_path(profile.name)
        )
        self.playback: Playback | None = None

    def _gripper_fraction(self) -> float | None:
        app = self.app
        g = app.profile.gripper
        if g is None or app.gripper_position is None:
            return None
        return min(1.0, max(0.0, (app.gripper_position - g.lower) / (g.upper - g.lower)))

    def add_waypoint(self, name: str = '') -> None:
        """Teach: store the arm's measured joint positions (by touch or by hand alike)."""
        app = self.app
        state = app.backend.latest_joint_state()
        if state is None or time.monotonic() - state[1] > app.settings.joint_states_timeout:
            # Without (fresh) joint_states the positions are not where the arm is now.
            app.show_message(_('No joint states'))
            return
        app._refresh_joints(state[0])
        if name.strip() in self.waypoints.names:
            app.show_message(
                _('A waypoint called {name} exists already').format(name=name.strip())
            )
            return
        try:
            wp = self.waypoints.add(
                dict(app.joints), name=name.strip() or None, gripper=self._gripper_fraction()
            )
        except WaypointError as exc:
            app.show_message(str(exc))
            return
        self.sync(select=wp.name)
        app.show_message(_('Saved waypoint {name}').format(name=wp.name))

    def delete_waypoint(self) -> None:
        """Delete the selected waypoint."""
        app = self.app
        if app.selected_waypoint in self.waypoints.names:
            self.waypoints.remove(app.selected_waypoint)
            self.sync(select='')

    def sync(self, select: str | None = None) -> None:
        """Show the list's names (and select ``select``; None: keep the selection)."""
        app = self.app
        app.waypoint_names = self.waypoints.names
        if select is not None:
            app.selected_waypoint = select

    def show_names(self, names) -> None:
        """Rebuild the list's items from ``names``."""
        app = self.app
        if app.root is None:
            return
        box = app.root.ids.waypoint_list
        for child in [c for c in box.children if getattr(c, 'group', None) == 'waypoint']:
            box.remove_widget(child)
        for name in names:
            box.add_widget(Factory.WaypointItem(text=name))

    # ------------------------------------------------------------------ playback

    def play(self, everything: bool) -> None:
        """Play the selected waypoint, or all of them (looping when ``app.loop`` is on)."""
        app = self.app
        if everything:
            items = list(self.waypoints)
        else:
            items = (
                [self.waypoints.get(app.selected_waypoint)]
                if app.selected_waypoint in self.waypoints.names
                else []
            )
        if not items:
            return
        if app.free_drive:
            app.show_message(_('Free drive is on: leave it to move the arm by touch'))
            return
        app.target = None
        self.playback = Playback(items, loop=app.loop and everything)
        app.playing = True

    def stop_playback(self) -> None:
        """Stop playing (the arm stops at the waypoint it was going to)."""
        if self.playback is not None:
            self.playback.stop()
            self.playback = None
        self.app.playing = False

    def step_playback(self, now: float) -> None:
        """Send the next waypoint once the arm has arrived at the last one."""
        if self.playback is None:
            return
        app = self.app
        wp = self.playback.update(app.joints, now)
        if wp is not None:
            app.selected_waypoint = wp.name  # the list shows which one is playing
            app.backend.publish_joint_target(dict(wp.joints))
            if wp.gripper is not None:
                app.backend.publish_gripper(wp.gripper)
        if not self.playback.active:
            app.stop_playback()

    # ------------------------------------------------------------------ file

    def save_waypoints(self) -> None:
        """Save the list to :attr:`waypoints_path`."""
        app = self.app
        try:
            path = self.waypoints.save(self.waypoints_path, app.profile.name)
        except OSError as exc:
            app.show_message(_('Could not save: {error}').format(error=exc))
            return
        app.show_message(
            _('Saved {count} waypoints to {path}').format(count=len(self.waypoints), path=path)
        )

    def load_waypoints(self, quiet: bool = False) -> None:
        """Load the list from :attr:`waypoints_path` (``quiet``: no message when it worked)."""
        app = self.app
        try:
            self.waypoints.load(self.waypoints_path)
        except RobotTouchError as exc:
            app.show_message(_('Could not load: {error}').format(error=exc))
            return
        self.sync(select='')
        if not quiet:
            app.show_message(_('Loaded {count} waypoints').format(count=len(self.waypoints)))
