"""Buttons that need more than a tap: the latched E-STOP and hold-to-act buttons."""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.button import Button

#: how often the hold's progress is updated while the finger stays on the button (s)
HOLD_TICK_PERIOD = 1 / 30


class EStopButton(Button):
    """
    Latched emergency stop.

    A touch-down latches it at once (``on_latch``). While latched, releasing takes a deliberate
    hold of :attr:`hold_s` seconds on the button (``progress`` fills from 0 to 1); lifting the
    finger early leaves it latched. Then ``on_release_confirmed`` fires.
    """

    latched = BooleanProperty(False)
    hold_s = NumericProperty(1.0)
    progress = NumericProperty(0.0)

    __events__ = ('on_latch', 'on_release_confirmed')

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._hold_ev = None
        self._held = 0.0

    def on_latch(self) -> None:
        pass

    def on_release_confirmed(self) -> None:
        pass

    def on_touch_down(self, touch) -> bool:  # Kivy MotionEvent
        if not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        if not self.latched:
            self.latched = True
            self.dispatch('on_latch')
        else:
            self._held = 0.0
            self.progress = 0.0
            self._hold_ev = Clock.schedule_interval(self._on_hold, HOLD_TICK_PERIOD)
        return True

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        self._cancel_hold()
        return True

    def on_touch_move(self, touch) -> bool:
        return touch.grab_current is self

    def _on_hold(self, dt: float) -> None:
        self._held += dt
        self.progress = min(1.0, self._held / self.hold_s)
        if self._held >= self.hold_s:
            self._cancel_hold()
            self.latched = False
            self.dispatch('on_release_confirmed')

    def _cancel_hold(self) -> None:
        if self._hold_ev is not None:
            self._hold_ev.cancel()
            self._hold_ev = None
        self.progress = 0.0


class HoldButton(Button):
    """
    A button that acts while held.

    ``on_hold_start`` on touch-down, ``on_hold_end`` on lift (also when the finger slides off).
    """

    held = BooleanProperty(False)

    __events__ = ('on_hold_start', 'on_hold_end')

    def on_hold_start(self) -> None:
        pass

    def on_hold_end(self) -> None:
        pass

    def on_touch_down(self, touch) -> bool:
        if not self.collide_point(*touch.pos) or self.disabled:
            return False
        touch.grab(self)
        self.held = True
        self.state = 'down'
        self.dispatch('on_hold_start')
        return True

    def on_touch_move(self, touch) -> bool:
        return touch.grab_current is self

    def on_touch_up(self, touch) -> bool:
        if touch.grab_current is not self:
            return False
        touch.ungrab(self)
        self.held = False
        self.state = 'normal'
        self.dispatch('on_hold_end')
        return True
