"""
The touchscreen app: two workspace views, modes (Cartesian, Joint, Waypoints), safety controls.

It talks to the arm only through a :class:`~robot_touch.ui.settings.UiBackend` (the ROS node in
:mod:`robot_touch.nodes.touch_ui`), polled on Kivy's main thread so widgets are never touched
from another thread.

:class:`RobotTouchApp` holds what every part shares (the arm's profile and measured joints, the
current target, the Kivy properties the kv rules show), builds the screen and runs the frame;
each concern is a controller it composes, in a file of its own:

* :mod:`robot_touch.ui.layout_controller`: sizes for the panel's DPI, the mode panel's place;
* :mod:`robot_touch.ui.target_controller`: gestures → Cartesian targets, reach preview, drawing;
* :mod:`robot_touch.ui.jog_controller`: the Up/Down jog buttons and Joint mode's sliders;
* :mod:`robot_touch.ui.safety_controller`: E-STOP, Enable, Home, Speed, gripper, Free drive;
* :mod:`robot_touch.ui.waypoint_controller`: teach, list, play, save and load waypoints.

The names the kv rules, the tablet app and the tests use on the app stay on it (forwarded to
the controller that holds them).

Importing it imports Kivy, which reads the command line unless ``KIVY_NO_ARGS`` is set: the
entry points (the touch_ui node's ``main``, ``robot-touch-tablet``, ``robot-touch bench ui`` and
``e2e``, the tests' conftest) set it first, so ROS arguments reach ROS.
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import Any, Mapping

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.logger import Logger
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    OptionProperty,
    StringProperty,
)
from robot_touch.core.profile import ArmProfile
from robot_touch.core.workspace_view import Chain, Pose, reachable_regions
from robot_touch.ui.controls import can_roll, gesture_hint
from robot_touch.ui.feedback import status_text
from robot_touch.ui.i18n import _, LANGUAGES, translator
from robot_touch.ui.jog_controller import JogController

# use_panel_dpi: importable from here as it always was (test/support/panel_walk.py)
from robot_touch.ui.layout_controller import LayoutController, use_panel_dpi  # noqa: F401
from robot_touch.ui.safety_controller import SafetyController
from robot_touch.ui.settings import UiBackend, UiSettings
from robot_touch.ui.target_controller import TargetController
from robot_touch.ui.waypoint_controller import WaypointController
from robot_touch.ui.widgets.buttons import EStopButton, HoldButton
from robot_touch.ui.widgets.slider import ActiveSlider
from robot_touch.ui.widgets.workspace import BACKGROUND, WorkspaceView

KV_FILE = Path(__file__).resolve().parent / 'robot_touch.kv'
#: the Free drive control (its own file: one widget, added beside Home at build time)
FREE_DRIVE_KV = Path(__file__).resolve().parent / 'free_drive.kv'

#: how often the screen takes the arm's state, the status and teleop's answers (s)
REFRESH_PERIOD = 1 / 30
#: how long a message stays above the status line (s)
MESSAGE_SECONDS = 4.0


class _Forward:
    """
    An attribute of the app that one of its controllers holds (read and written there).

    :param controller: the app's attribute holding the controller.
    :param name: the attribute's name in the controller (default: the same name).
    """

    def __init__(self, controller: str, name: str = '') -> None:
        self.controller = controller
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    def __get__(self, app: Any, owner: type | None = None) -> Any:
        if app is None:
            return self
        return getattr(getattr(app, self.controller), self.name)

    def __set__(self, app: Any, value: Any) -> None:
        setattr(getattr(app, self.controller), self.name, value)


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

    # Held by the controllers (created by use_profile), reached on the app by the kv rules,
    # the tablet app, the demo and the tests.
    editor = _Forward('targets')
    kinematics = _Forward('targets')
    clamp_point = _Forward('targets')
    current_pose = _Forward('targets')
    gesture_start_pose = _Forward('targets')
    set_target = _Forward('targets')
    sliders = _Forward('jog')
    start_jog = _Forward('jog')
    stop_jog = _Forward('jog')
    engage_estop = _Forward('safety')
    release_estop = _Forward('safety')
    set_enabled = _Forward('safety')
    home = _Forward('safety')
    set_speed = _Forward('safety')
    set_gripper = _Forward('safety')
    free_drive_scopes = _Forward('safety')
    choose_free_drive_scope = _Forward('safety')
    set_free_drive = _Forward('safety')
    _build_enable = _Forward('safety', 'build_enable')
    waypoints = _Forward('waypoint_list')
    waypoints_path = _Forward('waypoint_list')
    playback = _Forward('waypoint_list')
    add_waypoint = _Forward('waypoint_list')
    delete_waypoint = _Forward('waypoint_list')
    play = _Forward('waypoint_list')
    stop_playback = _Forward('waypoint_list')
    save_waypoints = _Forward('waypoint_list')
    load_waypoints = _Forward('waypoint_list')
    _sync_waypoints = _Forward('waypoint_list', 'sync')

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
        self.layout = LayoutController(self)
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
        self.target: Pose | None = None
        self.joints: dict[str, float] = dict(zip(profile.joint_names, profile.home))
        self.gripper_position: float | None = None
        self.targets = TargetController(self, profile)
        self.jog = JogController(self)
        self.safety = SafetyController(self)
        self.waypoint_list = WaypointController(self, profile)
        self._message_ev = None

    # ------------------------------------------------------------------ build

    def build(self):  # Kivy signature
        self.layout.use_panel()
        Builder.load_file(str(KV_FILE))
        if str(FREE_DRIVE_KV) not in Builder.files:
            Builder.load_file(str(FREE_DRIVE_KV))
        Window.clearcolor = BACKGROUND
        root = Factory.RootLayout()
        for view, region in (
            (root.ids.top_view, self.top_region),
            (root.ids.side_view, self.side_region),
        ):
            view.set_gesture_config(self.layout.gesture_config())
            view.set_region(region)
            view.bind(on_gesture=self.on_view_gesture)
        self.jog.build_joint_sliders(root)
        self.safety.build_enable(root)
        self.safety.build_free_drive(root)
        if self.profile.gripper is None:  # no Open/Close for an arm without a gripper
            box = root.ids.gripper_box
            box.parent.remove_widget(box)
        self.layout.follow(root)
        Clock.schedule_interval(self._refresh, REFRESH_PERIOD)
        Clock.schedule_interval(self._flush, 0)
        self.root = root
        if self.waypoints_path.is_file():
            self.load_waypoints(quiet=True)
        return root

    # ------------------------------------------------------------------ language

    def next_language(self, language: str, *_rebind: object) -> str:
        """Return the language after ``language`` (the language button switches to it)."""
        codes = list(LANGUAGES)
        return codes[(codes.index(language) + 1) % len(codes)]

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

    def free_drive_scope_label(self, scope: str, *_rebind: object) -> str:
        """Return the scope's name on screen (joints by their own names)."""
        return self.safety.free_drive_scope_label(scope)

    def free_drive_scope_labels(self, *_rebind: object) -> list[str]:
        return [self.free_drive_scope_label(s) for s in self.free_drive_scopes()]

    # ------------------------------------------------------------------ modes and events

    def on_view_gesture(self, view: WorkspaceView, g) -> None:
        self.targets.on_gesture(view, g)

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        self.stop_playback()
        self.editor.end()
        self.target = None
        self.jog.forget_pending()
        self.mode = mode

    def on_mode(self, _app, mode: str) -> None:  # Kivy property event
        if self.root is not None:
            self.root.ids.panel.current = mode
            self.layout.layout_panel()

    def on_free_drive(self, _app, on: bool) -> None:  # Kivy property event
        # the readouts follow the arm; touching them would command it
        jog = getattr(self, 'jog', None)
        if jog is not None:
            jog.lock_sliders(on)

    def on_waypoint_names(self, _app, names) -> None:  # Kivy property event
        self.waypoint_list.show_names(names)

    # ------------------------------------------------------------------ every frame

    def _refresh(self, _dt: float) -> None:
        state = self.backend.latest_joint_state()
        if state is not None:
            self._refresh_joints(state[0])
        self.safety.follow_teleop(self.backend.latest_status())
        self.jog.follow_arm()
        self.waypoint_list.step_playback(time.monotonic())
        if self.target is not None:
            self.targets.update_target_state()
        self._draw()
        self._refresh_status()

    def _refresh_joints(self, positions: Mapping[str, float]) -> None:
        """Take the measured joints (and gripper) from joint_states."""
        for name in self.profile.joint_names:
            if name in positions:
                self.joints[name] = positions[name]
        if self.profile.gripper is not None and self.profile.gripper.name in positions:
            self.gripper_position = positions[self.profile.gripper.name]

    def _flush(self, _dt: float) -> None:
        self.targets.redraw_if_moved()
        now = time.monotonic()
        self.targets.publish_held(now)
        self.jog.publish_held(now)

    def _draw(self) -> None:
        self.targets.draw()

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
            shortfall = self.targets.shortfall()
            if shortfall is not None:
                parts.append(
                    _('Target out of reach: the arm stops {mm:.0f} mm short').format(
                        mm=shortfall * 1000
                    )
                )
            else:
                parts.append(_('Target unreachable'))
        elif getattr(self, 'target', None) is not None and self.target_state == 'clamped':
            parts.append(_('Target clamped to the workspace'))
        parts.append(_('Commands: {rate:.0f}/s').format(rate=rate))
        self.status_text = '   ·   '.join(parts)
