"""
Synthetic fingers: real Kivy MotionEvents fed through the EventLoop, as a touchscreen's are.

Used by the built-in demo, the UI tests and the UI benchmark. Import only after the display
is set up (importing Kivy's input modules opens nothing, but Kivy must see the final config).
"""

from __future__ import annotations

import itertools
from typing import Any

from kivy.base import EventLoop
from kivy.input.motionevent import MotionEvent
from kivy.input.shape import ShapeRect

_ids = itertools.count(1000)


class Finger(MotionEvent):
    """
    One finger on the screen at window pixel (x, y).

    :param x, y: window coordinates in pixels (origin bottom-left, as Kivy's).:
    :param size: contact size as a fraction of the window, as Kivy reports shapes (adds the "shape"
        profile; 0.2 is palm-sized).
    :param pressure: contact pressure (adds the "pressure" profile).
    :param device: the input device name the event reports.
    """

    def __init__(
        self,
        x: float,
        y: float,
        size: float | None = None,
        pressure: float | None = None,
        device: str = 'robot_touch',
    ) -> None:
        self._size, self._pressure = size, pressure
        super().__init__(
            device, next(_ids), self._normalised(x, y), is_touch=True, type_id='touch'
        )
        self.profile = (
            ['pos'] + (['shape'] if size else []) + (['pressure'] if pressure is not None else [])
        )

    @staticmethod
    def _normalised(x: float, y: float) -> dict[str, float]:
        window = EventLoop.window
        return {'x': x / (window.width - 1.0), 'y': y / (window.height - 1.0)}

    def depack(self, args: dict[str, Any]) -> None:
        self.sx, self.sy = args['x'], args['y']
        if self._size:
            self.shape = ShapeRect()
            self.shape.width = self.shape.height = float(self._size)
        if self._pressure is not None:
            self.pressure = self._pressure
        super().depack(args)

    def down(self) -> 'Finger':
        """Touch the screen (dispatched on the next frame)."""
        EventLoop.post_dispatch_input('begin', self)
        return self

    def move_to(self, x: float, y: float) -> None:
        """Slide to window pixel (x, y)."""
        self.move(self._normalised(x, y))
        EventLoop.post_dispatch_input('update', self)

    def up(self) -> None:
        """Lift the finger."""
        EventLoop.post_dispatch_input('end', self)
