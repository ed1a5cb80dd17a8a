"""A slider that knows when a finger is on it: Joint mode's sliders and the Speed slider."""

from __future__ import annotations

from kivy.properties import BooleanProperty
from kivy.uix.slider import Slider


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
