"""
Touch controls in millimetres on every panel.

The density rule, the panel table and the views' scale steps (robot_touch/ui/sizing.py).
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
import pytest
from robot_touch.ui.sizing import (
    check_dpi,
    COMMON_PANELS,
    density_for_dpi,
    DPI_RANGE,
    mm_to_px,
    px_to_mm,
    scale_step_mm,
    TOUCH_DP,
    TOUCH_MIN_MM,
    touch_min_px,
)


@given(st.floats(min_value=DPI_RANGE[0], max_value=DPI_RANGE[1]))
def test_48_dp_are_at_least_9_mm_on_every_panel(dpi: float) -> None:
    density = density_for_dpi(dpi)
    assert density >= 1.0
    assert px_to_mm(TOUCH_DP * density, dpi) >= TOUCH_MIN_MM - 1e-9
    assert px_to_mm(touch_min_px(dpi, density), dpi) >= TOUCH_MIN_MM - 1e-9


def test_a_fine_panel_draws_larger_and_a_coarse_one_keeps_one_pixel_per_dp() -> None:
    # The Touch Display 2 (210 DPI) needs 74 px for 9 mm: 48 dp become 74 px.
    assert TOUCH_DP * density_for_dpi(209.8) == pytest.approx(mm_to_px(9.0, 209.8))
    assert density_for_dpi(96.0) == 1.0 and density_for_dpi(133.3) == 1.0
    # A density the user forced lower still gets 9 mm controls.
    assert px_to_mm(touch_min_px(209.8, 1.0), 209.8) == pytest.approx(9.0)


def test_the_common_panels_and_their_dpi() -> None:
    dpi = {p.size: round(p.dpi) for p in COMMON_PANELS}
    assert dpi == {
        (800, 480): 133,
        (1024, 600): 170,
        (1280, 800): 149,
        (720, 1280): 210,
        (800, 1280): 189,
    }


@pytest.mark.parametrize('dpi', [0, 60, 133.3, 700])
def test_dpi_settings_a_user_may_give(dpi: float) -> None:
    assert check_dpi(dpi) is None


@pytest.mark.parametrize('dpi', [20, 59.9, 701, -133, math.nan, math.inf])
def test_dpi_settings_refused_say_what_is_allowed(dpi: float) -> None:
    problem = check_dpi(dpi)
    assert problem is not None and problem.startswith(
        "must be 0 (as the screen reports) or the panel's pixels per inch, 60-700, got "
    )
    with pytest.raises(ValueError):
        density_for_dpi(dpi if dpi <= 0 or not math.isfinite(dpi) else -1)


@pytest.mark.parametrize(
    ('px_per_m', 'min_px', 'step'),
    [(500, 40, 100), (1000, 40, 50), (2000, 40, 20), (250, 40, 200), (40_000, 40, 1)],
)
def test_scale_steps_are_1_2_5_and_long_enough(px_per_m: float, min_px: float, step: int) -> None:
    assert scale_step_mm(px_per_m, min_px) == step


@given(st.floats(min_value=10, max_value=1e6), st.floats(min_value=1, max_value=500))
def test_a_scale_step_is_the_shortest_long_enough(px_per_m: float, min_px: float) -> None:
    step = scale_step_mm(px_per_m, min_px)
    assert step / 1000 * px_per_m >= min_px
    digits = str(step).rstrip('0')
    assert digits in ('1', '2', '5')
    # The next smaller 1-2-5 step would be too short (1 mm is the finest step).
    if step > 1:
        smaller = {'1': step / 2, '2': step / 2, '5': step * 2 / 5}[digits]
        assert smaller / 1000 * px_per_m < min_px
