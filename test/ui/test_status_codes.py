"""
The status line speaks teleop's status codes (:class:`Code`), whatever the message around them.

Pure: no window. The touch_ui node and the tablet's backend read the code with
:func:`status_code`; the app shows it with :func:`status_text`.
"""

from __future__ import annotations

from robot_touch.core.teleop_status import Code
from robot_touch.ui.feedback import status_code, status_text, STATUS_TEXTS
from robot_touch.ui.i18n import translator


def test_the_code_is_the_first_word_of_the_message() -> None:
    """Check the forms teleop sends and an empty message (OK)."""
    assert status_code('clamped') == 'clamped'
    assert status_code('near_singularity: cond 812') == 'near_singularity'
    assert status_code('  estop ') == Code.ESTOP
    assert status_code('') == 'ok'
    assert status_code('   ') == 'ok'
    for code in Code:
        assert status_code(f'{code.value}: detail') == code.value
        assert type(status_code(code.value)) is str  # the wire value, not the enum member


def test_a_code_this_ui_does_not_know_is_shown_as_it_is() -> None:
    """Check that a newer teleop's code reaches the screen instead of a wrong "OK"."""
    assert status_code('overheated: joint 3') == 'overheated'
    assert status_text('overheated') == 'overheated'


def test_every_text_is_a_code_and_shown_translated() -> None:
    """Check the table against Code and the words on screen in both languages."""
    assert set(STATUS_TEXTS) <= set(Code)
    try:
        translator.set_language('en')
        assert status_text('estop') == 'E-STOP active'
        assert status_text(Code.CLAMPED) == 'Target clamped to the workspace'
        # Codes without words of their own are shown as they are (as before: no text for them).
        assert status_text('joint_states_conflict') == 'joint_states_conflict'
        translator.set_language('vi')
        assert status_text('estop') != 'E-STOP active'
    finally:
        translator.set_language('en')
