"""
The touchscreen app: two workspace views, modes (Cartesian, Joint, Waypoints), safety controls.

It talks to the arm only through a :class:`UiBackend` (the ROS node in
:mod:`robot_touch.nodes.touch_ui`), polled on Kivy's main thread so widgets are never touched
from another thread.

Importing it imports Kivy, which reads the command line unless ``KIVY_NO_ARGS`` is set: the
entry points (the touch_ui node's ``main``, ``robot-touch-tablet``, ``robot-touch bench ui`` and
``e2e``, the tests' conftest) set it first, so ROS arguments reach ROS.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import os
from pathlib import Path
import time
from typing import Mapping, Protocol, Sequence

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.logger import Logger
from kivy.metrics import dp, Metrics
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.slider import Slider
import numpy as np
from robot_touch.core.gestures import (
    DoubleTap,
    Dragged,
    DragStarted,
    GestureConfig,
    GestureEnded,
    LatestWins,
    LongPress,
    TargetEditor,
    TwoFinger,
    TwoFingerStarted,
)
from robot_touch.core.profile import ArmProfile
from robot_touch.core.teleop_core import Code
from robot_touch.core.waypoints import (
    default_path,
    Playback,
    WaypointError,
    WaypointList,
)
from robot_touch.core.workspace_view import Chain, Pose, reachable_regions
from robot_touch.errors import RobotTouchError
from robot_touch.ui.controls import can_roll, gesture_hint
from robot_touch.ui.feedback import answer_text, status_text
from robot_touch.ui.i18n import _, LANGUAGES, translator
from robot_touch.ui.sizing import density_for_dpi, panel_beside, touch_min_px
from robot_touch.ui.widgets.buttons import EStopButton, HoldButton
from robot_touch.ui.widgets.workspace import BACKGROUND, WorkspaceView

KV_FILE = Path(__file__).resolve().parent / 'robot_touch.kv'
#: the Free drive control (its own file: one widget, added beside Home at build time)
FREE_DRIVE_KV = Path(__file__).resolve().parent / 'free_drive.kv'

#: how often the screen takes the arm's state, the status and teleop's answers (s)
REFRESH_PERIOD = 1 / 30
#: how often a held jog button repeats its command (s): within teleop's jog_timeout (0.1 s),
#: after which teleop stops a jog that was not repeated
JOG_REPEAT_PERIOD = 1 / 20
#: at most one IK reach preview per this many seconds (≤ 10 per second)
IK_PREVIEW_PERIOD = 0.1
#: an estop status this soon after the user released the e-stop was on its way before (s)
ESTOP_RELEASE_GRACE = 0.5
#: teleop's own value of a control the user just changed here is shown only after this (s)
USER_CHANGE_HOLD = 1.0
#: how long a message stays above the status line (s)
MESSAGE_SECONDS = 4.0
#: how long a refused or unanswered call stays above the status line (s)
ANSWER_SECONDS = 6.0


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
    enable_mode: str = 'latched'  # latched | hold
    pinch_gain: float = 0.08
    long_press_time: float = 0.8
    double_tap_time: float = 0.35
    jog_speed: float = 0.05
    joint_states_timeout: float = 0.5
    waypoints_file: str = ''
    #: the panel's pixels per inch; 0: as the screen reports (robot_touch/ui/sizing.py)
    dpi: float = 0.0


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


def use_panel_dpi(dpi: float) -> None:
    """
    Size the UI for a panel of ``dpi`` pixels per inch (0: as the screen reports).

    Kivy's ``Metrics.dpi``, and a density that makes 48 dp at least 9 mm on it
    (:func:`robot_touch.ui.sizing.density_for_dpi`). A density the user set in
    ``KIVY_METRICS_DENSITY`` is kept. The layout follows at once (kv rules use dp strings,
    ``Metrics.dp`` and ``app.touch``).
    """
    if dpi > 0:
        Metrics.dpi = dpi
    if not os.environ.get('KIVY_METRICS_DENSITY'):
        Metrics.density = density_for_dpi(Metrics.dpi)


class ActiveSlider(Slider):
    """A slider that knows when a finger is on it (``active``) and fires ``on_release``."""

    active = BooleanProperty(False)
    __events__ = ('on_release',)

    def on_release(self) -> None:
        pass

    def on_touch_down(self, touch) -> bool:
        if self.disabled or not self.collide_point(*touch.pos):
            return False
        self.active = True
        return super().on_touch_down(touch)

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is self:
            result = super().on_touch_up(touch)
            self.active = False
            self.dispatch('on_release')
            return bool(result)
        return super().on_touch_up(touch)


Factory.register('ActiveSlider', cls=ActiveSlider)
Factory.register('WorkspaceView', cls=WorkspaceView)
Factory.register('EStopButton', cls=EStopButton)
Factory.register('HoldButton', cls=HoldButton)


class RobotTouchApp(App):
    """The touch UI. ``backend`` is the ROS side, ``profile`` the arm."""

    lang = StringProperty('en')
    portrait = BooleanProperty(False)
    #: the smallest touch control (px): 9 mm on the panel (robot_touch/ui/sizing.py)
    touch = NumericProperty(48)
    #: the mode's panel sits beside the workspace views (a short landscape screen)
    panel_beside = BooleanProperty(False)
    #: the mode's panel's height when it sits below the views (px)
    panel_height = NumericProperty(100)
    mode = OptionProperty('cartesian', options=['cartesian', 'joint', 'waypoints'])
    status_text = StringProperty('')
    message = StringProperty('')
    estop_latched = BooleanProperty(False)
    enabled = BooleanProperty(False)
    hold_to_move = BooleanProperty(False)
    loop = BooleanProperty(False)
    playing = BooleanProperty(False)
    waypoint_names = ListProperty([])
    selected_waypoint = StringProperty('')
    target_state = StringProperty('ok')
    #: Preview reach with IK (roboticstoolbox); the tablet app has no IK and judges reach from
    #: the sampled region and the teleop status instead.
    ik_preview = True
    #: free drive is on (teleop says so): joints released, moved by hand
    free_drive = BooleanProperty(False)
    #: what Free drive releases: "all" or one joint's name (the gripper's: the gripper alone)
    free_drive_scope = StringProperty('all')
    #: the Free drive control (ui/free_drive.kv), once built
    free_drive_box = None
    _free_drive_changed_at = -math.inf

    def __init__(
        self,
        backend: UiBackend,
        profile: ArmProfile | None,
        settings: UiSettings | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.title = 'robot_touch'
        self.backend = backend
        self.settings = settings or UiSettings()
        self.hold_to_move = self.settings.enable_mode == 'hold'
        if profile is not None:
            self.use_profile(profile)
        try:
            self.set_language(self.settings.language)
        except ValueError as exc:
            Logger.warning(f'robot_touch: {exc}; using English')
            self.set_language('en')

    def use_profile(self, profile: ArmProfile) -> None:
        """
        Set up everything that depends on the arm (before :meth:`build`).

        The tablet app calls it once the arm's description has arrived over the link.
        """
        self.profile = profile
        self.chain = Chain.from_profile(profile)
        self.can_roll = can_roll(profile)
        self.top_region, self.side_region = reachable_regions(
            self.chain, profile.lower, profile.upper
        )
        self.editor = TargetEditor(pinch_gain_m=self.settings.pinch_gain)
        self.target: Pose | None = None
        self.kinematics = _load_kinematics(profile) if self.ik_preview else None
        #: Where the arm would really end up when the target is out of reach (IK's nearest pose).
        self.clamp_point: np.ndarray | None = None
        self._checked_target: Pose | None = None
        self._ik_state: str | None = None
        self._ik_distance: float | None = None
        self._last_ik = -math.inf
        self._target_out: LatestWins[Pose] = LatestWins(self.settings.max_publish_rate)
        self._joint_out: LatestWins[dict[str, float]] = LatestWins(self.settings.max_publish_rate)
        self._pending_joints: dict[str, float] = {}
        self.joints: dict[str, float] = dict(zip(profile.joint_names, profile.home))
        self.gripper_position: float | None = None
        self.waypoints = WaypointList(joint_names=profile.joint_names)
        self.waypoints_path = (
            Path(self.settings.waypoints_file)
            if self.settings.waypoints_file
            else default_path(profile.name)
        )
        self.playback: Playback | None = None
        self._jog_ev = None
        self._message_ev = None
        self._estop_released_at = -math.inf
        self._redraw_pending = False
        self._drawn_key: tuple | None = None
        self._syncing = False
        self._enable_changed_at = -math.inf
        self._speed_changed_at = -math.inf
        self._target_sent_at = -math.inf

    # ------------------------------------------------------------------ build

    def build(self):  # Kivy signature
        use_panel_dpi(self.settings.dpi)
        self._on_metrics()
        Metrics.bind(dp=self._on_metrics)
        Builder.load_file(str(KV_FILE))
        if str(FREE_DRIVE_KV) not in Builder.files:
            Builder.load_file(str(FREE_DRIVE_KV))
        Window.clearcolor = BACKGROUND
        root = Factory.RootLayout()
        for view, region in (
            (root.ids.top_view, self.top_region),
            (root.ids.side_view, self.side_region),
        ):
            view.set_gesture_config(self._gesture_config())
            view.set_region(region)
            view.bind(on_gesture=self.on_view_gesture)
        self._build_joint_sliders(root)
        self._build_enable(root)
        self._build_free_drive(root)
        if self.profile.gripper is None:  # no Open/Close for an arm without a gripper
            box = root.ids.gripper_box
            box.parent.remove_widget(box)
        self._layout_panel = Clock.create_trigger(lambda _dt: self._update_panel_layout())
        ids = root.ids
        ids.gesture_hint.bind(texture_size=self._layout_panel)
        ids.joint_box.bind(height=self._layout_panel)
        ids.waypoint_buttons.bind(height=self._layout_panel)
        ids.workspace.bind(height=self._layout_panel)
        self.bind(mode=self._layout_panel, portrait=self._layout_panel, touch=self._layout_panel)
        Window.bind(size=self._on_window_size)
        self._on_window_size(Window, Window.size)
        Clock.schedule_interval(self._refresh, REFRESH_PERIOD)
        Clock.schedule_interval(self._flush, 0)
        self.root = root
        if self.waypoints_path.is_file():
            self.load_waypoints(quiet=True)
        return root

    def _on_window_size(self, _window, size) -> None:
        self.portrait = size[1] > size[0]

    # ------------------------------------------------------------------ sizes

    def _gesture_config(self) -> GestureConfig:
        """Gesture thresholds in dp: the same finger movement on every panel."""
        return GestureConfig(
            slop_px=dp(8),
            double_tap_px=dp(32),
            palm_size_px=dp(40),
            long_press_s=self.settings.long_press_time,
            double_tap_s=self.settings.double_tap_time,
        )

    def _on_metrics(self, *_args: object) -> None:
        """Follow a change of the panel's DPI or density: the touch minimum and gestures."""
        self.touch = touch_min_px(Metrics.dpi, Metrics.density)
        if self.root is not None:
            for view in (self.root.ids.top_view, self.root.ids.side_view):
                view.set_gesture_config(self._gesture_config())

    def _update_panel_layout(self) -> None:
        """Where the mode's panel goes (below or beside the views) and how tall it is."""
        if self.root is None:
            return
        ids = self.root.ids
        needed = {
            'cartesian': max(self.touch, ids.gesture_hint.texture_size[1] + dp(4)),
            'joint': ids.joint_box.height,
            # the name field and two rows of the list above the buttons, or beside them
            'waypoints': (
                ids.waypoint_buttons.height + 3 * self.touch + dp(14)
                if self.portrait
                else ids.waypoint_buttons.height
            ),
        }[self.mode]
        self.panel_height = needed
        beside = self.mode != 'cartesian' and panel_beside(
            not self.portrait, ids.workspace.height / Metrics.dp, needed / Metrics.dp
        )
        self.panel_beside = beside

    def next_language(self, language: str, *_rebind: object) -> str:
        """Return the language after ``language`` (the language button switches to it)."""
        codes = list(LANGUAGES)
        return codes[(codes.index(language) + 1) % len(codes)]

    def _build_joint_sliders(self, root) -> None:
        box = root.ids.joint_box
        box.clear_widgets()
        self.sliders: dict[str, ActiveSlider] = {}
        for spec in self.profile.joints:
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

    def _build_enable(self, root) -> None:
        slot = root.ids.enable_slot
        slot.clear_widgets()
        if self.hold_to_move:
            button = Factory.EnableHoldButton()
            button.bind(
                on_hold_start=lambda *_: self.set_enabled(True),
                on_hold_end=lambda *_: self.set_enabled(False),
            )
        else:
            button = Factory.EnableToggle()
            button.bind(
                state=lambda _b, state: (
                    None if self._syncing else self.set_enabled(state == 'down')
                )
            )
        slot.add_widget(button)

    def _build_free_drive(self, root) -> None:
        """Put the Free drive control right after Home, in the safety controls."""
        home = root.ids.home
        box = Factory.FreeDriveBox()
        home.parent.add_widget(box, index=home.parent.children.index(home))
        self.free_drive_box = box

    # ------------------------------------------------------------------ language

    def gesture_hint(self, *_rebind: object) -> str:
        """Return the Cartesian panel's hint: only the gestures this arm can carry out."""
        return gesture_hint(self.profile)

    def set_language(self, language: str) -> None:
        """Switch every visible text to ``language`` (en, vi)."""
        translator.set_language(language)
        self.lang = language
        self._refresh_status()

    @staticmethod
    def language_names() -> dict[str, str]:
        return dict(LANGUAGES)

    def show_message(self, text: str, seconds: float = MESSAGE_SECONDS) -> None:
        """Show ``text`` above the status line for a while."""
        self.message = text
        if self._message_ev is not None:
            self._message_ev.cancel()
        self._message_ev = Clock.schedule_once(lambda _dt: setattr(self, 'message', ''), seconds)

    # ------------------------------------------------------------------ gestures

    def current_pose(self) -> Pose:
        """Return the end effector's pose from the latest joint states (home before any arrive)."""
        return Pose.from_matrix(self.chain.tip(self.joints))

    def gesture_start_pose(self) -> Pose:
        """
        Where a new gesture starts from.

        The last target, unless it was not reachable (then the arm's actual pose, so the next drag
        does not start from a point the arm is not at).
        """
        if self.target is not None and self.target_state == 'ok':
            return self.target.copy()
        return self.current_pose()

    def on_view_gesture(self, view: WorkspaceView, g) -> None:
        if isinstance(g, LongPress):
            self.add_waypoint()
            return
        if self.mode != 'cartesian':
            return
        if self.free_drive:  # the arm is moved by hand: no targets
            if isinstance(g, (DragStarted, TwoFingerStarted, DoubleTap)):
                self.show_message(_('Free drive is on: leave it to move the arm by touch'))
            return
        if isinstance(g, (DragStarted, TwoFingerStarted)):
            self.editor.begin(self.gesture_start_pose())
        elif isinstance(g, Dragged):
            self.set_target(self.editor.drag(view.kind, g.dx, g.dy, view.mapping, view.azimuth))
        elif isinstance(g, TwoFinger) and view.kind == 'top':
            # An arm without wrist roll ignores the twist (its hint is not shown either).
            self.set_target(self.editor.two_finger(g.scale, g.rotation if self.can_roll else 0.0))
        elif isinstance(g, GestureEnded):
            self.editor.end()
        elif isinstance(g, DoubleTap):
            u, v = view.to_view_m(g.x, g.y)
            self.set_target(
                self.editor.go_to(view.kind, self.gesture_start_pose(), u, v, view.azimuth)
            )

    def set_target(self, pose: Pose | None) -> None:
        """Take a new Cartesian target: shown at once, published coalesced (latest wins)."""
        if pose is None or not (
            np.isfinite(pose.position).all() and np.isfinite(pose.rotation).all()
        ):
            return
        self.stop_playback()
        self.target = pose
        # Publish first: the arm should not wait for the preview (IK) and the redraw.
        out = self._target_out.offer(pose, time.monotonic())
        if out is not None:
            self.backend.publish_target(out)
            self._target_sent_at = time.monotonic()
        # Redrawn once per frame however many touch events arrive in it.
        self._redraw_pending = True

    def _check_reach(self) -> None:
        """
        IK preview of a new target (≤ 10 per second).

        Is it reachable, and if not, where will the arm stop? Shown at once, before the teleop side
        answers.
        """
        if self.kinematics is None or self.target is None or self.target is self._checked_target:
            return
        now = time.monotonic()
        if now - self._last_ik < IK_PREVIEW_PERIOD:
            return
        self._last_ik = now
        self._checked_target = self.target
        try:
            result = self.kinematics.ik(
                self.target.matrix(), [self.joints[n] for n in self.profile.joint_names]
            )
        except (RobotTouchError, ValueError):
            self._ik_state, self._ik_distance, self.clamp_point = 'unreachable', None, None
            return
        self._ik_state = 'ok' if result.ok else 'unreachable'
        self._ik_distance = None if result.ok else float(result.distance)
        self.clamp_point = None if result.ok else np.asarray(result.pose)[:3, 3].copy()

    def _update_target_state(self) -> None:
        if self.target is None:
            self.target_state = 'ok'
            self.clamp_point = None
            return
        self._check_reach()
        status = self.backend.latest_status()
        # Only a status sent after the target went out can be about this target.
        if (
            status is not None
            and status[1] > self._target_sent_at
            and status[0] in (Code.CLAMPED, Code.UNREACHABLE)
        ):
            self.target_state = status[0]
            return
        if self._ik_state is not None and self._checked_target is self.target:
            self.target_state = self._ik_state
            return
        p = self.target.position
        reach = math.hypot(p[0], p[1])
        inside = self.top_region.contains(p[0], p[1], margin=0.005) and self.side_region.contains(
            reach, p[2], margin=0.005
        )
        self.target_state = 'ok' if inside else 'unreachable'

    def _flush(self, _dt: float) -> None:
        if self._redraw_pending:
            self._redraw_pending = False
            self._update_target_state()
            self._draw()
        now = time.monotonic()
        pose = self._target_out.poll(now)
        if pose is not None:
            self.backend.publish_target(pose)
            self._target_sent_at = now
        joints = self._joint_out.poll(now)
        if joints is not None:
            self.backend.publish_joint_target(joints)

    # ------------------------------------------------------------------ jog

    def start_jog(self, direction: float) -> None:
        """Move the tool up (+1) or down (-1) while a button is held."""
        self.stop_playback()
        self.target = None
        speed = self.settings.jog_speed * direction
        self._jog_ev = Clock.schedule_interval(
            lambda _dt: self.backend.publish_jog((0.0, 0.0, speed), (0.0, 0.0, 0.0)),
            JOG_REPEAT_PERIOD,
        )
        self.backend.publish_jog((0.0, 0.0, speed), (0.0, 0.0, 0.0))

    def stop_jog(self) -> None:
        if self._jog_ev is not None:
            self._jog_ev.cancel()
            self._jog_ev = None
        self.backend.publish_jog((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))

    # ------------------------------------------------------------------ joint mode

    def _on_slider_value(self, slider: ActiveSlider, value: float) -> None:
        if not slider.active:
            return
        self.stop_playback()
        self.target = None
        self._pending_joints[slider.joint_name] = float(value)
        out = self._joint_out.offer(dict(self._pending_joints), time.monotonic())
        if out is not None:
            self.backend.publish_joint_target(out)

    def _on_slider_release(self, slider: ActiveSlider) -> None:
        # The last value still goes out (pending in the rate limiter); later messages from
        # other sliders must not carry this joint's old value while the arm moves on.
        self._pending_joints.pop(slider.joint_name, None)

    # ------------------------------------------------------------------ safety & controls

    def engage_estop(self) -> None:
        self.stop_playback()
        self.estop_latched = True
        if not self.backend.call_estop(True):
            self.show_message(_('Teleop is not answering'))

    def release_estop(self) -> None:
        self.estop_latched = False
        self._estop_released_at = time.monotonic()
        if not self.backend.call_estop(False):
            self.show_message(_('Teleop is not answering'))

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        self._enable_changed_at = time.monotonic()
        if not self.backend.call_enable(enabled):
            self.show_message(_('Teleop is not answering'))

    def home(self) -> None:
        self.stop_playback()
        self.target = None
        if not self.backend.call_home():
            self.show_message(_('Teleop is not answering'))

    def set_speed(self, fraction: float) -> None:
        fraction = min(1.0, max(0.05, float(fraction)))
        self._speed_changed_at = time.monotonic()
        if not self.backend.set_speed(fraction):
            self.show_message(_('Teleop is not answering'))

    def set_gripper(self, opening: float) -> None:
        self.backend.publish_gripper(min(1.0, max(0.0, float(opening))))

    # ------------------------------------------------------------------ free drive

    def free_drive_scopes(self) -> list[str]:
        """Return what Free drive can release: the whole arm, the gripper alone, one arm joint."""
        gripper = [self.profile.gripper.name] if self.profile.gripper else []
        return ['all'] + gripper + list(self.profile.joint_names)

    def free_drive_scope_label(self, scope: str, *_rebind: object) -> str:
        """Return the scope's name on screen (joints by their own names)."""
        if scope == 'all':
            return _('Whole arm')
        if self.profile.gripper is not None and scope == self.profile.gripper.name:
            return _('Gripper')
        return scope

    def free_drive_scope_labels(self, *_rebind: object) -> list[str]:
        return [self.free_drive_scope_label(s) for s in self.free_drive_scopes()]

    def choose_free_drive_scope(self, label: str) -> None:
        """Select the scope whose label the user picked (the spinner shows labels)."""
        for scope in self.free_drive_scopes():
            if self.free_drive_scope_label(scope) == label:
                self.free_drive_scope = scope
                return

    def set_free_drive(self, on: bool) -> None:
        """
        Turn free drive on or off.

        On: torque off for the chosen joints, the arm is moved by hand; off: torque on, holding
        where the arm is. Teleop's answer is shown when it refuses.
        """
        self.stop_playback()
        self.target = None
        self.free_drive = on
        self._free_drive_changed_at = time.monotonic()
        joints = [] if self.free_drive_scope == 'all' else [self.free_drive_scope]
        call = getattr(self.backend, 'call_free_drive', None)  # a link may not offer it
        if call is None or not call(on, joints):
            self.show_message(_('Teleop is not answering'))

    def on_free_drive(self, _app, on: bool) -> None:  # Kivy property event
        # the readouts follow the arm; touching them would command it
        for slider in getattr(self, 'sliders', {}).values():
            slider.disabled = on

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.stop_playback()
        self.editor.end()
        self.target = None
        self._pending_joints.clear()
        self.mode = mode

    # ------------------------------------------------------------------ waypoints

    def _gripper_fraction(self) -> float | None:
        g = self.profile.gripper
        if g is None or self.gripper_position is None:
            return None
        return min(1.0, max(0.0, (self.gripper_position - g.lower) / (g.upper - g.lower)))

    def add_waypoint(self, name: str = '') -> None:
        """Teach: store the arm's measured joint positions (by touch or by hand alike)."""
        state = self.backend.latest_joint_state()
        if state is None or time.monotonic() - state[1] > self.settings.joint_states_timeout:
            # Without (fresh) joint_states the positions are not where the arm is now.
            self.show_message(_('No joint states'))
            return
        self._refresh_joints(state[0])
        if name.strip() in self.waypoints.names:
            self.show_message(
                _('A waypoint called {name} exists already').format(name=name.strip())
            )
            return
        try:
            wp = self.waypoints.add(
                dict(self.joints), name=name.strip() or None, gripper=self._gripper_fraction()
            )
        except WaypointError as exc:
            self.show_message(str(exc))
            return
        self._sync_waypoints(select=wp.name)
        self.show_message(_('Saved waypoint {name}').format(name=wp.name))

    def delete_waypoint(self) -> None:
        if self.selected_waypoint in self.waypoints.names:
            self.waypoints.remove(self.selected_waypoint)
            self._sync_waypoints(select='')

    def _sync_waypoints(self, select: str | None = None) -> None:
        self.waypoint_names = self.waypoints.names
        if select is not None:
            self.selected_waypoint = select

    def on_mode(self, _app, mode: str) -> None:  # Kivy property event
        if self.root is not None:
            self.root.ids.panel.current = mode
            self._layout_panel()

    def on_waypoint_names(self, _app, names) -> None:  # Kivy property event
        if self.root is None:
            return
        box = self.root.ids.waypoint_list
        for child in [c for c in box.children if getattr(c, 'group', None) == 'waypoint']:
            box.remove_widget(child)
        for name in names:
            box.add_widget(Factory.WaypointItem(text=name))

    def play(self, everything: bool) -> None:
        """Play the selected waypoint, or all of them (looping when :attr:`loop` is on)."""
        if everything:
            items = list(self.waypoints)
        else:
            items = (
                [self.waypoints.get(self.selected_waypoint)]
                if self.selected_waypoint in self.waypoints.names
                else []
            )
        if not items:
            return
        if self.free_drive:
            self.show_message(_('Free drive is on: leave it to move the arm by touch'))
            return
        self.target = None
        self.playback = Playback(items, loop=self.loop and everything)
        self.playing = True

    def stop_playback(self) -> None:
        if self.playback is not None:
            self.playback.stop()
            self.playback = None
        self.playing = False

    def save_waypoints(self) -> None:
        try:
            path = self.waypoints.save(self.waypoints_path, self.profile.name)
        except OSError as exc:
            self.show_message(_('Could not save: {error}').format(error=exc))
            return
        self.show_message(
            _('Saved {count} waypoints to {path}').format(count=len(self.waypoints), path=path)
        )

    def load_waypoints(self, quiet: bool = False) -> None:
        try:
            self.waypoints.load(self.waypoints_path)
        except RobotTouchError as exc:
            self.show_message(_('Could not load: {error}').format(error=exc))
            return
        self._sync_waypoints(select='')
        if not quiet:
            self.show_message(_('Loaded {count} waypoints').format(count=len(self.waypoints)))

    # ------------------------------------------------------------------ refresh

    def _refresh(self, _dt: float) -> None:
        state = self.backend.latest_joint_state()
        if state is not None:
            self._refresh_joints(state[0])
        status = self.backend.latest_status()
        # Another screen or the teleop side may have stopped the arm: show it latched here too.
        # Statuses that were on their way while we released are not that.
        if (
            status is not None
            and status[0] == Code.ESTOP
            and status[1] > self._estop_released_at + ESTOP_RELEASE_GRACE
        ):
            self.estop_latched = True
        self._sync_from_teleop()
        self._show_answers()
        for name, slider in getattr(self, 'sliders', {}).items():
            if not slider.active:
                slider.value = self.joints[name]
        if self.playback is not None:
            wp = self.playback.update(self.joints, time.monotonic())
            if wp is not None:
                self.selected_waypoint = wp.name  # the list shows which one is playing
                self.backend.publish_joint_target(dict(wp.joints))
                if wp.gripper is not None:
                    self.backend.publish_gripper(wp.gripper)
            if not self.playback.active:
                self.stop_playback()
        if self.target is not None:
            self._update_target_state()
        self._draw()
        self._refresh_status()

    def _refresh_joints(self, positions: Mapping[str, float]) -> None:
        """Take the measured joints (and gripper) from joint_states."""
        for name in self.profile.joint_names:
            if name in positions:
                self.joints[name] = positions[name]
        if self.profile.gripper is not None and self.profile.gripper.name in positions:
            self.gripper_position = positions[self.profile.gripper.name]

    def _show_answers(self) -> None:
        """Show a refused or unanswered call (Home while e-stopped, ...), never drop it."""
        take = getattr(self.backend, 'take_answers', None)
        if take is None:
            return
        for answer in take():
            text = answer_text(answer.service, answer.success, answer.message)
            if text is not None:
                Logger.warning(f'robot_touch: {answer.service}: {answer.message}')
                self.show_message(text, seconds=ANSWER_SECONDS)

    def _sync_from_teleop(self) -> None:
        """
        Show the teleop side's own state, except for a moment after the user changed it here.

        It may have been changed elsewhere: another screen, a parameter file.
        """
        values = (
            self.backend.latest_status_values()
            if hasattr(self.backend, 'latest_status_values')
            else {}
        )
        if not values or self.root is None:
            return
        now = time.monotonic()
        if (
            'enabled' in values
            and not self.hold_to_move
            and now - self._enable_changed_at > USER_CHANGE_HOLD
        ):
            enabled = values['enabled'] == 'true'
            for button in self.root.ids.enable_slot.children:
                if (button.state == 'down') != enabled:
                    self._syncing = True
                    try:
                        button.state = 'down' if enabled else 'normal'
                    finally:
                        self._syncing = False
            self.enabled = enabled
        if 'free_drive' in values and now - self._free_drive_changed_at > USER_CHANGE_HOLD:
            self.free_drive = bool(values['free_drive'])
        speed = self.root.ids.speed
        if (
            'speed_override' in values
            and not speed.active
            and now - self._speed_changed_at > USER_CHANGE_HOLD
        ):
            try:
                speed.value = min(1.0, max(0.05, float(values['speed_override'])))
            except ValueError:
                pass

    def _draw(self) -> None:
        if self.root is None:
            return
        # Nothing moved, nothing to redraw: an idle screen costs no rendering (battery,
        # kiosks rendering in software).
        # (The key holds the target and clamp objects themselves, compared by identity, so a
        # freed object's id can never be mistaken for a new one.)
        key = (tuple(self.joints.values()), self.target, self.target_state, self.clamp_point)
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
        frames = self.chain.frames(self.joints)
        skeleton = frames[:, :3, 3]
        ee = skeleton[-1]
        # The side view looks at the arm's own plane (its first joint's azimuth).
        first = frames[1] if len(frames) > 1 else frames[0]
        azimuth = math.atan2(first[1, 0], first[0, 0])
        for view in (self.root.ids.top_view, self.root.ids.side_view):
            view.azimuth = azimuth
            view.target_state = self.target_state
            view.show(
                skeleton, ee, self.target, self.clamp_point if self.target is not None else None
            )

    def _refresh_status(self) -> None:
        state = self.backend.latest_joint_state() if self.backend is not None else None
        connected = (
            state is not None and time.monotonic() - state[1] < self.settings.joint_states_timeout
        )
        arm = _('Connected') if connected else _('No joint states')
        status = self.backend.latest_status() if self.backend is not None else None
        teleop = status_text(status[0]) if status is not None else _('Waiting for teleop')
        rate = self.backend.command_rate() if self.backend is not None else 0.0
        parts = [_('Arm: {state}').format(state=arm), _('Teleop: {status}').format(status=teleop)]
        # The marker's shape and colour say it at a glance; the words say it for everyone.
        if getattr(self, 'target', None) is not None and self.target_state == 'unreachable':
            if self._ik_distance is not None and self._checked_target is self.target:
                parts.append(
                    _('Target out of reach: the arm stops {mm:.0f} mm short').format(
                        mm=self._ik_distance * 1000
                    )
                )
            else:
                parts.append(_('Target unreachable'))
        elif getattr(self, 'target', None) is not None and self.target_state == 'clamped':
            parts.append(_('Target clamped to the workspace'))
        parts.append(_('Commands: {rate:.0f}/s').format(rate=rate))
        self.status_text = '   ·   '.join(parts)
