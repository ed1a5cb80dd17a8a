"""
Run the touch app on Kivy's own main loop, in its window, until the window closes.

The touch_ui node's app side (:func:`robot_touch.nodes.touch_ui.main`): the window's size set
before Kivy opens it, the app (and the demo script, when asked for) on the node as its backend,
SIGTERM handled like a closed window, and the exit code the demo earned. Its counterpart
:mod:`robot_touch.ui.embedded` starts an app whose frames the caller runs (tests, benchmarks).
Kivy is imported only in :meth:`WindowedRun.run`: its window settings must be in its config
before its window module is imported, and :func:`quiet_kivy_logging` must come before any of it.
"""

from __future__ import annotations

import gc
import os
import signal
from typing import Any

from robot_touch.core.profile import ArmProfile
from robot_touch.ui.settings import UiBackend, UiSettings


def quiet_kivy_logging(terminal: bool) -> None:
    """
    Make Kivy's log a log: set its mode before Kivy is imported.

    Its handlers on its own logger only (``MIXED``: in its default mode Kivy opens the root logger
    to DEBUG, and every library's debug lines, matplotlib's at import, flood the output), and no
    colour codes when the output is not a terminal (Kivy decides by $TERM alone, so a log file got
    raw ANSI codes). A user's own KIVY_LOG_MODE is kept.

    :param terminal: whether the log goes to a terminal.
    """
    os.environ.setdefault('KIVY_LOG_MODE', 'MIXED')
    if not terminal:
        os.environ['TERM'] = 'dumb'


def release_kinematics(app: Any) -> None:
    """
    Free the IK solver before the interpreter ends.

    Kivy keeps the app reachable from its own (C-level) state, so roboticstoolbox's compiled
    kinematics would still be alive at exit, and its binding (nanobind) prints ~30 lines of "leaked
    instance" notes over the real log.

    :param app: the app, or None when none was made.
    """
    if app is None:
        return
    app.kinematics = None
    gc.collect()


class WindowedRun:
    """
    One run of the touch app in its window.

    Call :meth:`run`, then (after the ROS side is stopped) :meth:`release`, then
    :meth:`exit_code`.

    :ivar app: the app, once made (None before, or when Kivy failed before that).
    :ivar demo: the demo script, when one was asked for and made.
    :ivar interrupted: the run ended by Ctrl-C (KeyboardInterrupt).
    """

    def __init__(self) -> None:
        self.app: Any = None
        self.demo: Any = None
        self.interrupted = False

    def run(
        self,
        backend: UiBackend,
        profile: ArmProfile,
        settings: UiSettings,
        window_size: str,
        fullscreen: bool,
        demo_out: str | None = None,
    ) -> None:
        """
        Open the window and run the app until the window closes, SIGTERM or Ctrl-C.

        :param backend: the ROS side (the touch_ui node).
        :param profile: the arm.
        :param settings: the app's settings.
        :param window_size: WIDTHxHEIGHT in pixels (checked already).
        :param fullscreen: fill the screen.
        :param demo_out: play the demo script and save its screenshot in this folder; None: no
            demo.
        """
        try:
            # Window settings must be in Kivy's config before the window module is imported.
            from kivy.config import Config

            width, height = window_size.split('x')
            Config.set('graphics', 'width', width)
            Config.set('graphics', 'height', height)
            if fullscreen:
                Config.set('graphics', 'fullscreen', 'auto')
            from kivy.clock import Clock
            from robot_touch.ui.app import RobotTouchApp

            app = self.app = RobotTouchApp(backend=backend, profile=profile, settings=settings)
            if demo_out is not None:
                from robot_touch.ui.demo import DemoScript

                demo = self.demo = DemoScript(
                    app, demo_out, say=lambda text: print(text, flush=True)
                )
                app.bind(on_start=lambda *_: demo.start())
            # SIGTERM (launch, systemd) closes the window like the user would; Kivy is told on
            # its thread.
            signal.signal(signal.SIGTERM, lambda *_: Clock.schedule_once(lambda _dt: app.stop()))
            app.run()
        except KeyboardInterrupt:
            self.interrupted = True

    def release(self) -> None:
        """Free what the app holds that would be reported at exit (:func:`release_kinematics`)."""
        release_kinematics(self.app)

    def exit_code(self) -> int:
        """
        Return the process's exit code: 0 without a demo, else the one the demo earned.

        A demo stopped before its end (window closed, SIGTERM, Ctrl-C) that had not failed
        already says so and gives 1 (130 after Ctrl-C).
        """
        demo = self.demo
        if demo is None:
            return 0
        if not demo.finished and demo.exit_code == 0:
            print('demo: interrupted before its end', flush=True)
            return 130 if self.interrupted else 1
        return demo.exit_code
