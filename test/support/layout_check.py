"""
What a touch panel needs from a Kivy widget tree, checked on the running app.

A test helper for every screen of the UI (the touch UI's modes here; a connect screen or a new
control later get the same checks by calling :func:`check_layout` on their tree).

:func:`check_layout` walks the visible tree (opacity above 0, inside the clipping of every
``StencilView``/``ScrollView`` above it) and returns one line per problem:

* a touch control smaller than the minimum (9 mm at the panel's DPI) either way;
* two touch controls overlapping, or one reaching outside the window;
* a text that does not fit its widget: a texture larger than the widget, a word wider than the
  width it wraps in (Kivy would break it mid-word; file paths may break anywhere), more lines
  than the height holds (Kivy drops them when the text's height is fixed), a caption cut by
  the view it is drawn in, a text field's hint longer than the field.

Touch controls are buttons of every kind (``ButtonBehavior``: toggles, check boxes, spinners),
sliders, switches, text inputs, the workspace views, and any widget whose class sets
``touch_control = True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from robot_touch.ui.sizing import px_to_mm, touch_min_px

#: pixels of slack for rounding in Kivy's layouts
SLACK = 0.5


@dataclass(frozen=True)
class Box:
    """A rectangle in window pixels."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def top(self) -> float:
        return self.y + self.h

    def intersection(self, other: 'Box') -> 'Box | None':
        """Return the common part (None when they only touch or are apart)."""
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.top, other.top)
        if x1 - x0 <= SLACK or y1 - y0 <= SLACK:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)

    def contains(self, other: 'Box') -> bool:
        return (
            other.x >= self.x - SLACK
            and other.y >= self.y - SLACK
            and other.right <= self.right + SLACK
            and other.top <= self.top + SLACK
        )

    def __str__(self) -> str:
        return f'{self.w:.0f}x{self.h:.0f} at ({self.x:.0f}, {self.y:.0f})'


@dataclass(frozen=True)
class Seen:
    """A visible widget: its box in the window and the part its clipping ancestors show."""

    widget: object
    box: Box
    clip: Box
    scrolled: bool  # inside a ScrollView


def window_box(widget) -> Box:  # a Kivy widget
    x0, y0 = widget.to_window(widget.x, widget.y)
    x1, y1 = widget.to_window(widget.right, widget.top)
    return Box(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))


def visible_widgets(root, window: Box) -> Iterator[Seen]:
    """Every widget a person can see: not transparent, not clipped away entirely."""
    from kivy.uix.scrollview import ScrollView
    from kivy.uix.stencilview import StencilView

    def walk(widget, clip: Box, scrolled: bool) -> Iterator[Seen]:
        if widget.opacity <= 0:
            return
        box = window_box(widget)
        shown = box.intersection(clip) if box.w > 0 and box.h > 0 else None
        if shown is None and (box.w > 0 and box.h > 0):
            return  # entirely clipped (scrolled away, or outside the window)
        yield Seen(widget, box, shown or Box(box.x, box.y, 0, 0), scrolled)
        inner = clip
        if isinstance(widget, StencilView):
            inner = box.intersection(clip) or Box(box.x, box.y, 0, 0)
        for child in reversed(widget.children):  # Kivy keeps children last-added first
            yield from walk(child, inner, scrolled or isinstance(widget, ScrollView))

    yield from walk(root, window, False)


def is_touch_control(widget) -> bool:
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.slider import Slider
    from kivy.uix.switch import Switch
    from kivy.uix.textinput import TextInput
    from robot_touch.ui.widgets.workspace import WorkspaceView

    kinds = (ButtonBehavior, Slider, Switch, TextInput, WorkspaceView)
    return isinstance(widget, kinds) or bool(getattr(widget, 'touch_control', False))


def describe(widget, root=None) -> str:
    """``Button 'Home' #home``: the class, the text and the id, to find it in the kv file."""
    name = type(widget).__name__
    text = getattr(widget, 'text', '') or getattr(widget, 'hint_text', '')
    ident = ''
    if root is not None:
        # ids hold weak proxies: == compares the widgets they stand for
        ident = next((f' #{k}' for k, v in root.ids.items() if v == widget), '')
    shown = f' {text[:40]!r}' if isinstance(text, str) and text else ''
    return f'{name}{shown}{ident}'


def _core_label(label, width: float | None):  # kivy.core.text.Label
    from kivy.core.text import Label as CoreLabel

    core = CoreLabel(
        text=label.text,
        font_size=label.font_size,
        font_name=label.font_name,
        bold=label.bold,
        italic=label.italic,
        halign=label.halign,
        line_height=label.line_height,
        text_size=(width, None),
    )
    core.refresh()
    return core


def label_problems(label, box: Box) -> list[str]:  # a kivy Label (or Button)
    """Why ``label``'s text does not fit its widget ([] when it does)."""
    text = label.text
    if not isinstance(text, str) or not text.strip() or getattr(label, 'markup', False):
        return []
    problems = []
    tw, th = label.texture_size
    if tw > label.width + 1 or th > label.height + 1:
        problems.append(
            f'text {tw:.0f}x{th:.0f} px in a {label.width:.0f}x{label.height:.0f} widget'
        )
    pad_l, _top, pad_r, _bottom = label.padding
    wrap = label.text_size[0]
    width = (wrap if wrap is not None else label.width) - (
        0 if wrap is not None else pad_l + pad_r
    )
    core = _core_label(label, None)
    for word in text.split():
        if '/' in word:
            continue  # a file path: wrapped anywhere, as every file dialog and terminal does
        ww = core.get_extents(word)[0]
        if ww > width + 1:
            problems.append(f'the word {word!r} is {ww:.0f} px wide, its line {width:.0f} px')
            break
    if wrap is not None:
        lines_h = _core_label(label, wrap).texture.size[1]
        if lines_h > label.height + 1:
            problems.append(f'{lines_h:.0f} px of text lines in {label.height:.0f} px')
    return problems


def text_input_problems(field) -> list[str]:  # a kivy TextInput
    """Return a hint or text longer than a one-line field shows (TextInput cuts it)."""
    from kivy.core.text import Label as CoreLabel

    if field.multiline:
        return []
    pad_l, _t, pad_r, _b = field.padding
    room = field.width - pad_l - pad_r
    problems = []
    for what, text in (('hint', field.hint_text), ('text', field.text)):
        if text:
            core = CoreLabel(text=text, font_size=field.font_size, font_name=field.font_name)
            width = core.get_extents(text)[0]
            if width > room + 1:
                problems.append(
                    f'its {what} is {width:.0f} px wide, the field shows {room:.0f} px'
                )
    line = field.line_height + field.padding[1] + field.padding[3]
    if line > field.height + 1:
        problems.append(f'a line needs {line:.0f} px, the field is {field.height:.0f} px tall')
    return problems


def check_layout(root, window_size: tuple[int, int], dpi: float, density: float) -> list[str]:
    """
    Return everything wrong with ``root``'s visible tree; [] when nothing is.

    On a ``window_size`` panel of ``dpi`` (and the app's Kivy ``density``).
    """
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    window = Box(0, 0, *window_size)
    least = touch_min_px(dpi, density)
    seen = list(visible_widgets(root, window))
    controls = [s for s in seen if is_touch_control(s.widget)]
    problems = []
    for s in controls:
        name = describe(s.widget, root)
        short = min(s.box.w, s.box.h)
        if short < least - SLACK:
            problems.append(
                f'{name}: {s.box}, {px_to_mm(short, dpi):.1f} mm, less than '
                f'{px_to_mm(least, dpi):.1f} mm ({least:.0f} px)'
            )
        if not s.scrolled and not window.contains(s.box):
            problems.append(
                f'{name}: {s.box} reaches outside the {window.w:.0f}x{window.h:.0f} window'
            )
    for i, a in enumerate(controls):
        for b in controls[i + 1:]:
            if _related(a.widget, b.widget):
                continue
            common = a.clip.intersection(b.clip)
            if common is not None:
                problems.append(
                    f'{describe(a.widget, root)} ({a.box}) overlaps {describe(b.widget, root)} '
                    f'({b.box}) by {common.w:.0f}x{common.h:.0f} px'
                )
    for s in seen:
        if isinstance(s.widget, Label):
            for p in label_problems(s.widget, s.box):
                problems.append(f'{describe(s.widget, root)}: {p}')
            if not is_touch_control(s.widget) and s.widget.text.strip() and not s.scrolled:
                text_box = _texture_box(s.widget, s.box)
                if not s.clip.contains(text_box) and s.clip.w > 0:
                    problems.append(
                        f'{describe(s.widget, root)}: its text ({text_box}) is cut at {s.clip}'
                    )
        elif isinstance(s.widget, TextInput):
            for p in text_input_problems(s.widget):
                problems.append(f'{describe(s.widget, root)}: {p}')
    return problems


def _texture_box(label, box: Box) -> Box:
    """Where a label's text is drawn: its texture, centred in the widget (Kivy's default)."""
    tw, th = label.texture_size
    return Box(box.x + (box.w - tw) / 2, box.y + (box.h - th) / 2, tw, th)


def _related(a, b) -> bool:
    """One contains the other (a button inside a view is the view's own business)."""
    for child, parent in ((a, b), (b, a)):
        w = child.parent
        while w is not None and w is not w.parent:
            if w is parent:
                return True
            w = w.parent
    return False


def largest_button_problems(root, widget) -> list[str]:
    """``widget`` is the largest button on the screen (area), never inside a ScrollView."""
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.scrollview import ScrollView

    problems = []
    w = widget.parent
    while w is not None and w is not w.parent:
        if isinstance(w, ScrollView):
            problems.append(
                f'{describe(widget, root)} is inside a ScrollView: it may be scrolled away'
            )
        w = w.parent
    mine = window_box(widget)
    for s in visible_widgets(root, Box(-1e9, -1e9, 2e9, 2e9)):
        if s.widget == widget or not isinstance(s.widget, ButtonBehavior):
            continue
        if s.box.w * s.box.h >= mine.w * mine.h:
            big = f'{describe(s.widget, root)} ({s.box})'
            problems.append(f'{big} is as large as {describe(widget, root)} ({mine})')
    return problems


__all__ = [
    'Box',
    'check_layout',
    'describe',
    'largest_button_problems',
    'visible_widgets',
    'window_box',
]
