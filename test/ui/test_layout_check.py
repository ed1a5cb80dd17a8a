"""
The layout checker (layout_check.py) finds each defect it is there for.

It is given small widget trees built with that defect, and passes a tree without any. It needs
Kivy's window (text is measured with the window's renderer): the session's app provides it.
"""

from __future__ import annotations

import pytest
from support.layout_check import check_layout, largest_button_problems

pytestmark = [pytest.mark.ui, pytest.mark.ros]

DPI = 133.3  # the Raspberry Pi 7 in display: 9 mm = 47 px
WINDOW = (800, 480)


def tree(*widgets):
    """
    Return a FloatLayout the size of the window holding ``widgets`` at their own positions.

    Every label's texture is rendered (Kivy does it on the next frame otherwise).
    """
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label

    root = FloatLayout(size=WINDOW, pos=(0, 0))
    for w in widgets:
        w.size_hint = (None, None)
        root.add_widget(w)
    stack = [root]
    while stack:
        w = stack.pop()
        if isinstance(w, Label):
            w.texture_update()
        stack.extend(w.children)
    return root


def button(text='OK', pos=(10, 10), size=(120, 60), **kw):
    from kivy.uix.button import Button

    return Button(text=text, pos=pos, size=size, font_size=18, **kw)


def problems(root) -> str:
    return '\n'.join(check_layout(root, WINDOW, DPI, 1.0))


@pytest.fixture
def kivy_window(ui):
    return ui


def test_a_good_layout_passes(kivy_window) -> None:
    from kivy.uix.slider import Slider

    root = tree(
        button('Home'), button('Enable', pos=(140, 10)), Slider(pos=(10, 100), size=(300, 50))
    )
    assert problems(root) == ''


def test_overlapping_controls_are_found_unless_one_is_invisible(kivy_window) -> None:
    root = tree(button('Home'), button('Enable', pos=(100, 30)))
    assert "'Enable'" in problems(root) and 'overlaps' in problems(root)
    hidden = tree(button('Home'), button('Enable', pos=(100, 30), opacity=0))
    assert problems(hidden) == ''


def test_a_sliver_of_a_button_is_too_small(kivy_window) -> None:
    # The defect of issue 15: Enable squeezed to nothing under the E-STOP at 800x480.
    report = problems(
        tree(button('', size=(230, 0)), button('Home', pos=(10, 200), size=(230, 30)))
    )
    assert report.count('less than 9.1 mm (48 px)') == 2, report
    assert '5.7 mm' in report


def test_a_control_outside_the_window_is_found(kivy_window) -> None:
    assert 'reaches outside' in problems(tree(button('Close', pos=(740, 10))))


def test_cut_texts_are_found(kivy_window) -> None:
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    # Wider than its widget, no wrapping.
    assert 'text' in problems(tree(button('Về vị trí gốc', size=(60, 60))))
    # A word wider than the width it wraps in: Kivy would break it mid-word.
    narrow = button('Waypoints', size=(60, 60), text_size=(52, None))
    assert "the word 'Waypoints'" in problems(tree(narrow))
    # A fixed text height: Kivy drops the lines that do not fit, and the texture looks fine.
    dropped = Label(
        text='one two three four five six',
        pos=(10, 300),
        size=(60, 30),
        text_size=(60, 30),
        font_size=18,
    )
    assert 'px of text lines in 30 px' in problems(tree(dropped))
    # A hint longer than its one-line field.
    field = TextInput(
        hint_text='Name of the next waypoint (optional)',
        multiline=False,
        pos=(10, 100),
        size=(150, 50),
        font_size=18,
    )
    assert 'its hint is' in problems(tree(field))


def test_the_e_stop_must_be_the_largest_button(kivy_window) -> None:
    estop = button('E-STOP', size=(150, 100))
    root = tree(estop, button('Home', pos=(200, 10), size=(200, 100)))
    assert 'is as large as' in '\n'.join(largest_button_problems(root, estop))
    root = tree(estop := button('E-STOP', size=(250, 150)), button('Home', pos=(300, 10)))
    assert largest_button_problems(root, estop) == []
