"""
How big things are on the panel.

Touch controls in millimetres, the density that keeps them so on every screen, the common panels,
and the steps of the views' scale bars. Pure Python, no Kivy: the app applies it to Kivy's
``Metrics`` (``robot_touch/ui/app.py``).

The rule: a touch control is at least :data:`TOUCH_MIN_MM` (9 mm) on the glass, the size
Material (48 dp) and Apple (44 pt) design for. The layout is written in dp with touch controls
of :data:`TOUCH_DP`; :func:`density_for_dpi` makes 48 dp at least 9 mm on a panel of the
given DPI, and never shrinks a dp below one pixel (on a coarse screen, 48 px are already more
than 9 mm). So on the Raspberry Pi Touch Display 2 (7 in, 720x1280, 210 DPI) everything is
drawn 1.55 times larger than on the original 7 in display (800x480, 133 DPI), and a finger
meets the same 9 mm on both.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import re

MM_PER_INCH = 25.4
#: the smallest touch control on the glass (mm)
TOUCH_MIN_MM = 9.0
#: the smallest touch control in the layout (dp); with :func:`density_for_dpi` at least
#: :data:`TOUCH_MIN_MM`
TOUCH_DP = 48.0
#: panel DPI a user may give (``dpi`` parameter, ``--dpi``); 0 means "as the screen reports"
DPI_RANGE = (60.0, 700.0)
#: a window size a user may give (``window_size`` parameter, ``--window-size``): WIDTHxHEIGHT
WINDOW_SIZE = re.compile(r'[1-9]\d{1,4}x[1-9]\d{1,4}')


def mm_to_px(mm: float, dpi: float) -> float:
    """Millimetres on a panel of ``dpi`` pixels per inch → pixels."""
    return mm * dpi / MM_PER_INCH


def px_to_mm(px: float, dpi: float) -> float:
    """Pixels on a panel of ``dpi`` pixels per inch → millimetres."""
    return px * MM_PER_INCH / dpi


def density_for_dpi(dpi: float) -> float:
    """
    Return Kivy's density (pixels per dp) on a panel of ``dpi``.

    :data:`TOUCH_DP` dp are :data:`TOUCH_MIN_MM` mm, or more where one pixel per dp already
    gives more.
    """
    if not (math.isfinite(dpi) and dpi > 0):
        raise ValueError(f'dpi must be a positive number, got {dpi!r}')
    return max(1.0, mm_to_px(TOUCH_MIN_MM, dpi) / TOUCH_DP)


def touch_min_px(dpi: float, density: float) -> float:
    """
    Return the smallest touch control in pixels.

    :data:`TOUCH_DP` dp and :data:`TOUCH_MIN_MM` mm, whichever is larger (a density forced lower by
    the user still gets 9 mm controls).
    """
    return max(TOUCH_DP * density, mm_to_px(TOUCH_MIN_MM, dpi))


def check_dpi(dpi: float) -> str | None:
    """
    Return why ``dpi`` is not a panel DPI a user may give.

    None when it is: 0 or in :data:`DPI_RANGE`.
    """
    low, high = DPI_RANGE
    if isinstance(dpi, (int, float)) and (dpi == 0 or low <= dpi <= high):
        return None
    return (
        f"must be 0 (as the screen reports) or the panel's pixels per inch, "
        f'{low:g}-{high:g}, got {dpi:g}'
    )


@dataclass(frozen=True)
class Panel:
    """A touch panel people mount: its pixels and its diagonal."""

    name: str
    width: int
    height: int
    diagonal_in: float

    @property
    def dpi(self) -> float:
        """Pixels per inch (square pixels)."""
        return math.hypot(self.width, self.height) / self.diagonal_in

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)


#: The panels the layout is made and tested for (test/ui/test_layout.py); each size at the
#: smallest diagonal it is commonly sold with (the highest DPI: the least room in dp).
COMMON_PANELS = (
    Panel('Raspberry Pi Touch Display (7 in)', 800, 480, 7.0),
    Panel('7 in HMI panel or tablet', 1024, 600, 7.0),
    Panel('10.1 in panel', 1280, 800, 10.1),
    Panel('Raspberry Pi Touch Display 2 (7 in, portrait)', 720, 1280, 7.0),
    Panel('8 in portrait tablet', 800, 1280, 8.0),
)


def scale_step_mm(px_per_m: float, min_px: float) -> int:
    """
    Return the grid spacing and scale-bar length of a view (mm).

    The shortest of 1, 2, 5 x 10^k mm that is at least ``min_px`` long at ``px_per_m`` pixels per
    metre.
    """
    if not (px_per_m > 0 and min_px > 0):
        raise ValueError('px_per_m and min_px must be positive')
    k = 0
    while True:
        for base in (1, 2, 5):
            step = base * 10**k
            if step / 1000 * px_per_m >= min_px:
                return step
        k += 1


#: the least height (dp, titles included) the workspace views keep above a mode's panel;
#: below it the panel goes beside the views instead (a short landscape screen)
MIN_VIEWS_DP = 240.0


def panel_beside(landscape: bool, area_dp: float, panel_dp: float, gap_dp: float = 6.0) -> bool:
    """
    Return whether a mode's panel goes beside the workspace views rather than below them.

    The panel is ``panel_dp`` tall, in an area ``area_dp`` tall: beside only in landscape (a
    portrait screen has the height), and only where the views would keep less than
    :data:`MIN_VIEWS_DP`.
    """
    return landscape and area_dp - panel_dp - gap_dp < MIN_VIEWS_DP
