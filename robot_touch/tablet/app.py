"""
The tablet app.

The same touch app (:class:`~robot_touch.ui.app.RobotTouchApp`) over the gateway
(:class:`~robot_touch.tablet.backend.RemoteBackend`), with a connect screen and a connection bar.

* Connect screen: paste the pairing (the JSON of ``robot-touch pair --json`` or the text a
  camera app reads from its QR code), or type URL / token / fingerprint, or tap a remembered
  robot. Shows why a connection is refused.
* Once the link is up the arm's description arrives over it (profile and URDF): the touch UI
  is built for that arm. No files needed on the tablet.
* Connection bar above the touch UI: link state, round-trip time, who holds control, and
  "Take control" / "Release". While the link is down, or another client holds control, every
  motion control is disabled and the bar says why; E-STOP stays (it works whenever the link
  is up; with the link down the gateway has already made the arm hold).

No rclpy, roboticstoolbox, mujoco or scipy: reach is judged from the sampled region and
teleop's status (``ik_preview = False``).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.lang import Builder
from kivy.logger import Logger
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ListProperty, StringProperty
from robot_touch.errors import RobotTouchError
from robot_touch.tablet.backend import RemoteBackend
from robot_touch.tablet.pairing import (
    check,
    Pairing,
    PairingError,
    parse,
    profile_from_description,
    Robots,
)
from robot_touch.ui.app import RobotTouchApp, UiSettings
from robot_touch.ui.i18n import _, N_

KV = """
#:import dp kivy.metrics.dp
#:import sp kivy.metrics.sp
#:import _ robot_touch.ui.i18n._

<ConnectScreen@BoxLayout>:
    orientation: 'vertical'
    padding: dp(16)
    spacing: dp(8)
    Label:
        size_hint_y: None
        height: dp(40)
        font_size: sp(22)
        text: _('robot_touch: connect to a robot', app.lang)
    Label:
        size_hint_y: None
        height: dp(44)
        font_size: sp(15)
        text_size: self.width, None
        text: _(app.connect_help, app.lang)
    TextInput:
        id: pairing_text
        size_hint_y: None
        height: dp(72)
        font_size: sp(15)
        hint_text: '{"url": "wss://...", "token": "...", "fingerprint": "..."}'
    GridLayout:
        cols: 2
        size_hint_y: None
        row_force_default: True
        row_default_height: app.touch
        height: 3 * app.touch + 2 * dp(6)
        spacing: dp(6)
        Label:
            size_hint_x: 0.25
            text: 'URL'
        TextInput:
            id: url
            multiline: False
            font_size: sp(16)
            hint_text: 'wss://192.168.1.20:9090'
        Label:
            size_hint_x: 0.25
            text: _('Token', app.lang)
        TextInput:
            id: token
            multiline: False
            font_size: sp(16)
        Label:
            size_hint_x: 0.25
            text: _('Fingerprint', app.lang)
        TextInput:
            id: fingerprint
            multiline: False
            font_size: sp(13)
    BoxLayout:
        size_hint_y: None
        height: max(dp(56), app.touch)
        spacing: dp(8)
        Button:
            id: connect
            font_size: sp(20)
            text: _('Connect', app.lang)
            on_release: app.connect_from_screen()
        ToggleButton:
            id: take_control
            size_hint_x: 0.6
            font_size: sp(16)
            text: _('Take control on connect', app.lang)
    Label:
        id: connect_status
        size_hint_y: None
        height: dp(48)
        color: 1, 0.8, 0.3, 1
        font_size: sp(15)
        text_size: self.width, None
        text: app.connect_message
    Label:
        size_hint_y: None
        height: dp(28)
        font_size: sp(16)
        text: _('Remembered robots', app.lang) if app.robot_labels else ''
    ScrollView:
        GridLayout:
            id: robot_list
            cols: 1
            spacing: dp(4)
            size_hint_y: None
            height: self.minimum_height

<LinkBar@BoxLayout>:
    size_hint_y: None
    height: max(dp(52), app.touch)
    spacing: dp(6)
    Label:
        id: link_text
        font_size: sp(16)
        text_size: self.size
        halign: 'left'
        valign: 'middle'
        color: (0.6, 1, 0.6, 1) if app.link_ok else (1, 0.55, 0.3, 1)
        text: app.link_text
    Button:
        id: control
        size_hint_x: None
        width: dp(190)
        font_size: sp(17)
        disabled: not app.link_up
        text: _('Release control', app.lang) if app.holding else _('Take control', app.lang)
        on_release: app.toggle_control()
    Button:
        id: robots
        size_hint_x: None
        width: dp(120)
        font_size: sp(17)
        text: _('Robots', app.lang)
        on_release: app.show_connect()
"""

#: how often the link's state (connection, control lease, arm description, messages) is read (s)
LINK_TICK_PERIOD = 0.1
#: Widgets (ids of the touch UI) that move the arm: disabled unless this tablet may move it.
MOTION_IDS = ('panel', 'top_view', 'side_view')


class TabletApp(RobotTouchApp):
    """The touch app on a tablet. ``pairing`` connects at once; None shows the connect screen."""

    ik_preview = False
    link_text = StringProperty('')
    link_ok = BooleanProperty(False)
    link_up = BooleanProperty(False)
    holding = BooleanProperty(False)
    connect_message = StringProperty('')
    connect_help = StringProperty(
        N_(
            'On the robot computer: robot-touch pair. Paste its JSON (or what your camera app '
            'reads from its QR code), or type the URL, token and fingerprint.'
        )
    )
    robot_labels = ListProperty([])

    def __init__(
        self,
        pairing: Pairing | None = None,
        take_control: bool = False,
        settings: UiSettings | None = None,
        robots: Robots | None = None,
        **kwargs: Any,
    ) -> None:
        self.pairing = pairing
        self.take_on_connect = take_control
        self.robots = robots or Robots()
        self.backend_remote: RemoteBackend | None = None
        self.arm_root: Any = None
        self.shell: Any = None
        self._shown_messages = 0
        self._connecting = False  # until the link first comes up (then the robot is remembered)
        self._profile_key: tuple[str, str] | None = None
        super().__init__(backend=None, profile=None, settings=settings, **kwargs)
        self.title = 'robot_touch tablet'

    # ------------------------------------------------------------------ screens

    def build(self):  # Kivy signature
        # Touch controls of 9 mm on this screen too, at the tablet's DPI, as in the touch UI.
        self.layout.use_panel()
        Builder.load_string(KV)
        self.shell = Factory.BoxLayout(orientation='vertical')
        self.connect_screen = Factory.ConnectScreen()
        self._fill_robot_list()
        self.shell.add_widget(self.connect_screen)
        Clock.schedule_interval(self._link_tick, LINK_TICK_PERIOD)
        if self.pairing is not None:
            self.connect(self.pairing, self.take_on_connect)
        return self.shell

    def _fill_robot_list(self) -> None:
        box = self.connect_screen.ids.robot_list
        box.clear_widgets()
        robots = self.robots.load()
        self.robot_labels = [r.label for r in robots]
        for robot in robots:
            button = Factory.Button(
                text=robot.label,
                size_hint_y=None,
                height=max(dp(52), self.touch),
                font_size=sp(18),
            )
            button.bind(
                on_release=lambda _b, r=robot: self.connect(
                    r, self.connect_screen.ids.take_control.state == 'down'
                )
            )
            box.add_widget(button)

    def show_connect(self) -> None:
        """Back to the connect screen (another robot); the current link stays until replaced."""
        self.shell.clear_widgets()
        self.shell.add_widget(self.connect_screen)

    def _show_arm(self) -> None:
        self.shell.clear_widgets()
        self.shell.add_widget(self.link_bar)
        self.shell.add_widget(self.arm_root)

    # ------------------------------------------------------------------ connecting

    def connect_from_screen(self) -> None:
        ids = self.connect_screen.ids
        try:
            if ids.pairing_text.text.strip():
                pairing = parse(ids.pairing_text.text)
            else:
                pairing = check(ids.url.text, ids.token.text, ids.fingerprint.text)
        except PairingError as exc:
            self.connect_message = str(exc)
            return
        self.connect(pairing, ids.take_control.state == 'down')

    def connect(self, pairing: Pairing, take_control: bool = False) -> None:
        """Start the link to ``pairing`` (replacing any other)."""
        if self.backend_remote is not None:
            self.backend_remote.stop()
        self.pairing = pairing
        self.connect_message = _('connecting to {url} …').format(url=pairing.url)
        self._connecting = True
        self.backend_remote = RemoteBackend(
            pairing.url, pairing.token, pairing.fingerprint or None, take_control
        )
        self.backend = self.backend_remote
        self.backend_remote.start()

    def toggle_control(self) -> None:
        if self.backend_remote is None:
            return
        if self.holding:
            self.backend_remote.release_control()
        else:
            self.backend_remote.take_control()

    # ------------------------------------------------------------------ the link, 10 Hz

    def _link_tick(self, _dt: float) -> None:
        remote = self.backend_remote
        if remote is None:
            return
        remote.poll()
        state = remote.link_state()
        if (
            state.phase == 'connected'
            and self.pairing is not None
            and self._connecting
        ):
            self.robots.remember(self.pairing)
            self.connect_message = ''
            self._connecting = False
        elif state.phase == 'refused':
            self.connect_message = state.detail
            self._connecting = False
        description = remote.description()
        if description is not None and description != self._profile_key:
            self._use_description(description)
        self.link_up = state.phase == 'connected'
        self.holding = self.link_up and state.you_hold
        self.link_ok = self.holding
        self.link_text = self._link_words(state)
        while len(remote.messages) > 0:
            self.show_message(remote.messages.popleft())
        self._gate_motion()

    def _link_words(self, state: Any) -> str:
        if state.phase != 'connected':
            what = (
                _('Link lost: reconnecting')
                if state.phase == 'disconnected'
                else (
                    _('Refused: {why}').format(why=state.detail)
                    if state.phase == 'refused'
                    else _('Connecting')
                )
            )
            return what + ' · ' + _('motion controls are off (the arm holds)')
        rtt = f'{state.rtt_ms:.0f} ms' if state.rtt_ms is not None else '…'
        if state.you_hold:
            control = _('you have control')
        elif state.holder:
            control = _('viewing: {who} has control').format(who=state.holder)
        else:
            control = _('viewing: take control to move the arm')
        return _('Connected · {rtt} · {control}').format(rtt=rtt, control=control)

    def _use_description(self, description: tuple[str, str]) -> None:
        try:
            profile = profile_from_description(*description)
        except RobotTouchError as exc:
            self.connect_message = str(exc)
            return
        self._profile_key = description
        self.backend_remote.base_link = profile.base_link
        self.use_profile(profile)
        if self.arm_root is not None:  # another robot: the touch UI is built anew
            Clock.unschedule(self._refresh)
            Clock.unschedule(self._flush)
        self.root = None
        self.arm_root = RobotTouchApp.build(self)  # sets self.root to the touch UI
        self.link_bar = Factory.LinkBar()
        self._show_arm()
        Logger.info(
            f'robot_touch: connected to {profile.name} at '
            f'{self.pairing.url if self.pairing else "?"}'
        )

    def _gate_motion(self) -> None:
        if self.arm_root is None:
            return
        allowed = self.backend_remote is not None and self.backend_remote.can_move()
        ids = self.arm_root.ids
        for name in MOTION_IDS:
            ids[name].disabled = not allowed
        estop = ids.estop.__self__  # ids hold weak proxies; compare the widgets themselves
        for child in ids.controls.children:
            if child is not estop:
                child.disabled = not allowed

    # ------------------------------------------------------------------ the touch UI's hooks

    def on_view_gesture(self, view: Any, g: Any) -> None:
        if self.backend_remote is None or not self.backend_remote.can_move():
            return  # the views draw the finger, nothing is sent: the bar says why
        super().on_view_gesture(view, g)

    def _refresh(self, dt: float) -> None:
        if self.backend is not None:
            super()._refresh(dt)

    def _refresh_status(self) -> None:
        if (
            getattr(self, 'backend', None) is not None
            and getattr(self, 'profile', None) is not None
        ):
            super()._refresh_status()

    def on_stop(self) -> None:
        if self.backend_remote is not None:
            self.backend_remote.stop()
