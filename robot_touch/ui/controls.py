"""
What the touch UI offers for an arm.

Only the gestures and buttons its profile can carry out (an OpenMANIPULATOR-X has no wrist roll; an
arm without a gripper has no Open/Close). Pure, no Kivy: the app builds its widgets from this, and
it is tested without a window.
"""

from __future__ import annotations

from robot_touch.core.profile import ArmProfile, TASK_AXES
from robot_touch.ui.i18n import _, N_

#: how the Enable control works: latched (tap on, tap off) or hold (dead-man, hold to move)
ENABLE_MODES = ('latched', 'hold')

#: the hints of the Cartesian panel, in order, each shown only if the arm can do it
HINTS = {
    'drag': N_('Drag: move'),
    'double_tap': N_('Double-tap: go there'),
    'pinch': N_('Pinch: height'),
    'twist': N_('Twist: wrist roll'),
    'long_press': N_('Long-press: save waypoint'),
}


def can_roll(profile: ArmProfile) -> bool:
    """
    Return whether the arm can turn the tool about its approach axis.

    The IK controls ``rx`` (a wrist roll joint; see config/arms/README.md, "IK weights").
    """
    return profile.task_weights[TASK_AXES.index('rx')] > 0


def offered_gestures(profile: ArmProfile) -> list[str]:
    """Return the keys of :data:`HINTS` this arm can carry out."""
    return [key for key in HINTS if key != 'twist' or can_roll(profile)]


def gesture_hint(profile: ArmProfile) -> str:
    """Return the Cartesian panel's hint line, in the current language."""
    return ' · '.join(_(HINTS[key]) for key in offered_gestures(profile))
