"""
The built-in demo: a scripted sequence of touches played into the running app.

`robot-touch run --demo` (and `make run` on a machine without a screen) starts the UI with
``demo:=true``. The script waits for the arm, then drags in both views, opens and closes
the gripper, visits Joint mode and goes home — every step a real touch through Kivy's event
loop, so the whole stack (gestures → teleop → IK → serial bridge → servos) really runs.
It prints each step and how close the arm came, saves a screenshot, and stops the app.
Exit code 0 only when every step arrived: 1 when the arm never answered, a step missed its
target by more than ``feedback.TOLERANCE_MM`` (or Home by ``feedback.HOME_TOLERANCE_RAD``), or
the demo was stopped before its end (130 after Ctrl-C).
"""

from __future__ import annotations

from pathlib import Path
import time
from typing import Callable, Iterator

from kivy.app import App
from kivy.clock import Clock
import numpy as np
from robot_touch.ui.feedback import judge_home, judge_step
from robot_touch.ui.synthetic_touch import Finger

#: what a step waits for: seconds to wait, or a predicate with its timeout and a label
Wait = float | tuple[Callable[[], bool], float, str]


class DemoScript:
    """
    Plays the demo into ``app``.

    :param app: the running RobotTouchApp.
    :param out_dir: where the screenshot goes.
    :param say: progress printer.
    """

    def __init__(self, app: App, out_dir: Path, say: Callable[[str], None] = print) -> None:
        self.app = app
        self.out_dir = Path(out_dir)
        self.say = say
        self.exit_code = 0
        #: why steps failed (a step that missed its target)
        self.failures: list[str] = []
        #: the script ran to its end (an app stopped before that was interrupted)
        self.finished = False
        self._steps: Iterator[Wait] | None = None
        self._wait: Wait = 0.0
        self._since = time.monotonic()
        self.moved_mm: list[float] = []

    # ---------------------------------------------------------------- helpers

    def _joints(self) -> np.ndarray | None:
        latest = self.app.backend.latest_joint_state()
        if latest is None:
            return None
        positions, _stamp = latest
        names = self.app.profile.joint_names
        if not all(n in positions for n in names):
            return None
        return np.array([positions[n] for n in names])

    def _tip(self) -> np.ndarray | None:
        q = self._joints()
        if q is None or self.app.kinematics is None:
            return None
        return self.app.kinematics.fk(q)[:3, 3]

    def _settled(self, last: list[np.ndarray | None]) -> bool:
        """Return True once the measured joints stop changing (under 0.5 mrad a frame)."""
        q = self._joints()
        previous, last[0] = last[0], q
        return (
            q is not None and previous is not None and float(np.max(np.abs(q - previous))) < 5e-4
        )

    def _drag(
        self, view_id: str, dx_m: float, dy_m: float, duration: float = 0.6
    ) -> Iterator[Wait]:
        """
        Drag one finger across a view by (dx_m, dy_m) metres of that view's axes.

        The finger's position follows the clock, not the frame count, so a slow renderer
        (llvmpipe under Xvfb) sees the same brisk drag as a fast one, never a long press.
        """
        view = self.app.root.ids[view_id]
        dx, dy = dx_m * view.mapping.scale, dy_m * view.mapping.scale
        x0, y0 = view.to_window(view.center_x - dx / 2, view.center_y - dy / 2)
        finger = Finger(x0, y0, device='demo').down()
        yield 0.0
        start = time.monotonic()
        fraction = 0.0
        while fraction < 1.0:
            fraction = min(1.0, (time.monotonic() - start) / duration)
            finger.move_to(x0 + dx * fraction, y0 + dy * fraction)
            yield 0.0
        finger.up()
        yield 0.05

    def _tap(self, widget_id: str) -> Iterator[Wait]:
        widget = self.app.root.ids[widget_id]
        finger = Finger(*widget.to_window(*widget.center), device='demo').down()
        yield 0.05
        finger.up()
        yield 0.05

    def _settle(
        self, label: str, start: np.ndarray | None, timeout: float = 6.0, needs_target: bool = True
    ) -> Iterator[Wait]:
        """Wait for the arm to stop, then report how far the tip moved since ``start``."""
        last: list[np.ndarray | None] = [None]
        yield 0.5  # let the move begin before asking whether it has ended
        yield (lambda: self._settled(last), timeout, f'the arm to settle after {label}')
        end = self._tip()
        target = self.app.target
        if start is not None and end is not None:
            moved = float(np.linalg.norm(end - start)) * 1000
            self.moved_mm.append(moved)
            detail = f'moved {moved:.0f} mm'
            miss = None
            if target is not None:
                miss = float(np.linalg.norm(end - target.position)) * 1000
                detail += f', {miss:.1f} mm from the target'
            self.say(f'demo: {label}: {detail}')
            self._fail_if(judge_step(label, miss, needs_target=needs_target))

    def _fail_if(self, reason: str | None) -> None:
        if reason is not None:
            self.failures.append(reason)
            self.say(f'demo: FAILED: {reason}')

    # ---------------------------------------------------------------- script

    def _laid_out(self) -> bool:
        """Both views have their real size (the first frames still have Kivy's 100x100)."""
        ids = self.app.root.ids if self.app.root is not None else {}
        views = [ids.get('top_view'), ids.get('side_view')]
        return all(v is not None and v.width > 150 and v.height > 150 for v in views)

    def script(self) -> Iterator[Wait]:
        # A touch before the layout is final lands beside the view and moves nothing.
        yield (self._laid_out, 30.0, "the window's layout")
        yield 0.3
        self.say('demo: waiting for joint_states from the arm')
        yield (lambda: self._joints() is not None, 30.0, 'joint_states')
        self.say('demo: arm connected')
        # Teleop must be listening before the first touch, or the first moves go nowhere.
        yield (lambda: self.app.backend.latest_status() is not None, 30.0, 'teleop/status')
        self.say('demo: teleop ready')
        if not self.app.enabled:
            self.app.set_enabled(True)
            yield 0.5
        self.say('demo: one-finger drag in the top view (x-y)')
        start = self._tip()
        yield from self._drag('top_view', dx_m=-0.08, dy_m=0.06)
        yield from self._settle('top-view drag', start)
        self.say('demo: one-finger drag in the side view (reach-height)')
        start = self._tip()
        yield from self._drag('side_view', dx_m=-0.03, dy_m=-0.06)
        yield from self._settle('side-view drag', start)
        if self.app.profile.gripper is not None:
            self.say('demo: gripper open, then closed')
            yield from self._tap('gripper_open')
            yield 1.0
            yield from self._tap('gripper_close')
            yield 1.0
        self.say('demo: Joint mode, then back to Cartesian')
        yield from self._tap('mode_joint')
        yield 1.0
        yield from self._tap('mode_cartesian')
        yield 0.5
        self.say('demo: drag back in the top view')
        start = self._tip()
        yield from self._drag('top_view', dx_m=0.03, dy_m=-0.10)
        yield from self._settle('second top-view drag', start)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        shot = self.out_dir / 'demo_screenshot.png'
        from kivy.core.window import Window  # here: importing it opens the window

        # The window's own pixels (export_to_png would drop the background colour).
        saved = Window.screenshot(name=str(self.out_dir / 'demo_screenshot.png'))
        if saved:
            Path(saved).replace(shot)  # Kivy numbers its screenshots: keep one stable name
        self.say(f'demo: screenshot saved to {shot}')
        self.say('demo: Home')
        start = self._tip()
        yield from self._tap('home')
        yield from self._settle('Home', start, timeout=10.0, needs_target=False)
        joints = self._joints()
        if joints is not None:
            names = self.app.profile.joint_names
            self._fail_if(
                judge_home(dict(zip(names, joints)), dict(zip(names, self.app.profile.home)))
            )
        if not self.moved_mm or max(self.moved_mm) < 5.0:
            self._fail_if('the arm did not move')
        self.finished = True
        if self.failures:
            self.exit_code = 1
            self.say(f'demo: FAILED: {len(self.failures)} of its steps did not arrive')
        else:
            self.say('demo: done')

    # ---------------------------------------------------------------- driver

    def start(self) -> None:
        self._steps = self.script()
        self._wait, self._since = 0.0, time.monotonic()
        Clock.schedule_interval(self._tick, 0)

    def _tick(self, _dt: float) -> bool:
        now = time.monotonic()
        wait = self._wait
        if isinstance(wait, tuple):
            predicate, timeout, label = wait
            if not predicate():
                if now - self._since < timeout:
                    return True
                self.say(f'demo: FAILED: timed out after {timeout:g} s waiting for {label}')
                self.exit_code = 1
                self.app.stop()
                return False
        elif now - self._since < wait:
            return True
        try:
            assert self._steps is not None
            self._wait = next(self._steps)
            self._since = now
        except StopIteration:
            self.app.stop()
            return False
        return True
