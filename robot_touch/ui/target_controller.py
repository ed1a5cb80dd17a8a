"""
Cartesian mode: gestures in the workspace views become end-effector targets.

A target is shown at once and published coalesced (latest wins, at most ``max_publish_rate``);
an IK preview says before teleop answers whether it is in reach and where the arm would stop;
the views draw the arm, the target and that stop, once per frame and only when something
moved. Part of :class:`robot_touch.ui.app.RobotTouchApp`, which owns the shared state (the
measured joints, the current target) and the Kivy properties the kv rules show.
"""

from __future__ import annotations

import math
import time
from typing import Any, TYPE_CHECKING

from kivy.logger import Logger
import numpy as np
from robot_touch.core.gestures import (
    DoubleTap,
    Dragged,
    DragStarted,
    GestureEnded,
    LatestWins,
    LongPress,
    TargetEditor,
    TwoFinger,
    TwoFingerStarted,
)
from robot_touch.core.profile import ArmProfile
from robot_touch.core.teleop_status import Code
from robot_touch.core.workspace_view import Pose
from robot_touch.errors import RobotTouchError
from robot_touch.ui.i18n import _

if TYPE_CHECKING:
    from robot_touch.ui.app import RobotTouchApp
    from robot_touch.ui.widgets.workspace import WorkspaceView

#: at most one IK reach preview per this many seconds (≤ 10 per second)
IK_PREVIEW_PERIOD = 0.1
#: how far inside the sampled reachable region a target must be without an IK preview (m)
REGION_MARGIN = 0.005


def _load_kinematics(profile: ArmProfile):  # ArmKinematics or None
    """
    Return the IK solver for reach previews.

    None when it cannot be built (the UI still works, judging reach from the sampled region and the
    teleop status).
    """
    try:
        from robot_touch.core.kinematics import ArmKinematics

        return ArmKinematics(profile)
    except (ImportError, RobotTouchError) as exc:
        Logger.warning(f'robot_touch: no IK preview ({exc})')
        return None


class TargetController:
    """Gestures → targets, their reach preview and publishing, and the views' drawing."""

    def __init__(self, app: RobotTouchApp, profile: ArmProfile) -> None:
        self.app = app
        settings = app.settings
        self.editor = TargetEditor(pinch_gain_m=settings.pinch_gain)
        self.kinematics = _load_kinematics(profile) if app.ik_preview else None
        #: Where the arm would really end up when the target is out of reach (IK's nearest pose).
        self.clamp_point: np.ndarray | None = None
        self._checked_target: Pose | None = None
        self._ik_state: str | None = None
        self._ik_distance: float | None = None
        self._last_ik = -math.inf
        self._target_out: LatestWins[Pose] = LatestWins(settings.max_publish_rate)
        self._target_sent_at = -math.inf
        self._redraw_pending = False
        self._drawn_key: tuple | None = None

    # ------------------------------------------------------------------ gestures

    def current_pose(self) -> Pose:
        """Return the end effector's pose from the latest joint states (home before any arrive)."""
        app = self.app
        return Pose.from_matrix(app.chain.tip(app.joints))

    def gesture_start_pose(self) -> Pose:
        """
        Where a new gesture starts from.

        The last target, unless it was not reachable (then the arm's actual pose, so the next drag
        does not start from a point the arm is not at).
        """
        app = self.app
        if app.target is not None and app.target_state == 'ok':
            return app.target.copy()
        return self.current_pose()

    def on_gesture(self, view: WorkspaceView, g: Any) -> None:
        """Act on a gesture recognised in ``view`` (a long press saves a waypoint in any mode)."""
        app = self.app
        if isinstance(g, LongPress):
            app.add_waypoint()
            return
        if app.mode != 'cartesian':
            return
        if app.free_drive:  # the arm is moved by hand: no targets
            if isinstance(g, (DragStarted, TwoFingerStarted, DoubleTap)):
                app.show_message(_('Free drive is on: leave it to move the arm by touch'))
            return
        editor = self.editor
        if isinstance(g, (DragStarted, TwoFingerStarted)):
            editor.begin(self.gesture_start_pose())
        elif isinstance(g, Dragged):
            self.set_target(editor.drag(view.kind, g.dx, g.dy, view.mapping, view.azimuth))
        elif isinstance(g, TwoFinger) and view.kind == 'top':
            # An arm without wrist roll ignores the twist (its hint is not shown either).
            self.set_target(editor.two_finger(g.scale, g.rotation if app.can_roll else 0.0))
        elif isinstance(g, GestureEnded):
            editor.end()
        elif isinstance(g, DoubleTap):
            u, v = view.to_view_m(g.x, g.y)
            self.set_target(editor.go_to(view.kind, self.gesture_start_pose(), u, v, view.azimuth))

    def set_target(self, pose: Pose | None) -> None:
        """Take a new Cartesian target: shown at once, published coalesced (latest wins)."""
        if pose is None or not (
            np.isfinite(pose.position).all() and np.isfinite(pose.rotation).all()
        ):
            return
        app = self.app
        app.stop_playback()
        app.target = pose
        # Publish first: the arm should not wait for the preview (IK) and the redraw.
        out = self._target_out.offer(pose, time.monotonic())
        if out is not None:
            app.backend.publish_target(out)
            self._target_sent_at = time.monotonic()
        # Redrawn once per frame however many touch events arrive in it.
        self._redraw_pending = True

    # ------------------------------------------------------------------ reach

    def _check_reach(self) -> None:
        """
        IK preview of a new target (≤ 10 per second).

        Is it reachable, and if not, where will the arm stop? Shown at once, before the teleop side
        answers.
        """
        app = self.app
        target = app.target
        if self.kinematics is None or target is None or target is self._checked_target:
            return
        now = time.monotonic()
        if now - self._last_ik < IK_PREVIEW_PERIOD:
            return
        self._last_ik = now
        self._checked_target = target
        try:
            result = self.kinematics.ik(
                target.matrix(), [app.joints[n] for n in app.profile.joint_names]
            )
        except (RobotTouchError, ValueError):
            self._ik_state, self._ik_distance, self.clamp_point = 'unreachable', None, None
            return
        self._ik_state = 'ok' if result.ok else 'unreachable'
        self._ik_distance = None if result.ok else float(result.distance)
        self.clamp_point = None if result.ok else np.asarray(result.pose)[:3, 3].copy()

    def update_target_state(self) -> None:
        """Judge the target: teleop's answer about it, else the IK preview, else the region."""
        app = self.app
        if app.target is None:
            app.target_state = 'ok'
            self.clamp_point = None
            return
        self._check_reach()
        status = app.backend.latest_status()
        # Only a status sent after the target went out can be about this target.
        if (
            status is not None
            and status[1] > self._target_sent_at
            and status[0] in (Code.CLAMPED, Code.UNREACHABLE)
        ):
            app.target_state = status[0]
            return
        if self._ik_state is not None and self._checked_target is app.target:
            app.target_state = self._ik_state
            return
        p = app.target.position
        reach = math.hypot(p[0], p[1])
        inside = app.top_region.contains(
            p[0], p[1], margin=REGION_MARGIN
        ) and app.side_region.contains(reach, p[2], margin=REGION_MARGIN)
        app.target_state = 'ok' if inside else 'unreachable'

    def shortfall(self) -> float | None:
        """Return how far short of the current target the arm stops (m), when IK said so."""
        if self._checked_target is not self.app.target:
            return None
        return self._ik_distance

    # ------------------------------------------------------------------ every frame

    def redraw_if_moved(self) -> None:
        """Judge and draw a target that moved since the last frame (once per frame)."""
        if self._redraw_pending:
            self._redraw_pending = False
            self.update_target_state()
            self.draw()

    def publish_held(self, now: float) -> None:
        """Publish the target the rate limiter held back, once its turn has come."""
        pose = self._target_out.poll(now)
        if pose is not None:
            self.app.backend.publish_target(pose)
            self._target_sent_at = now

    def draw(self) -> None:
        """Draw the arm, the target and the arm's stop short of it in both views."""
        app = self.app
        if app.root is None:
            return
        # Nothing moved, nothing to redraw: an idle screen costs no rendering (battery,
        # kiosks rendering in software).
        # (The key holds the target and clamp objects themselves, compared by identity, so a
        # freed object's id can never be mistaken for a new one.)
        key = (tuple(app.joints.values()), app.target, app.target_state, self.clamp_point)
        old = self._drawn_key
        if (
            old is not None
            and old[0] == key[0]
            and old[1] is key[1]
            and old[2] == key[2]
            and old[3] is key[3]
        ):
            return
        self._drawn_key = key
        frames = app.chain.frames(app.joints)
        skeleton = frames[:, :3, 3]
        ee = skeleton[-1]
        # The side view looks at the arm's own plane (its first joint's azimuth).
        first = frames[1] if len(frames) > 1 else frames[0]
        azimuth = math.atan2(first[1, 0], first[0, 0])
        for view in (app.root.ids.top_view, app.root.ids.side_view):
            view.azimuth = azimuth
            view.target_state = app.target_state
            view.show(
                skeleton, ee, app.target, self.clamp_point if app.target is not None else None
            )
