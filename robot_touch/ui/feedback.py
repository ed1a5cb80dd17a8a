"""
What the UI and its demo tell the user about outcomes.

Teleop's status, a refused (or unanswered) service call, a demo step that did not arrive. Pure
functions, no Kivy: tested without a window.
"""

from __future__ import annotations

from robot_touch.core.teleop_status import Code
from robot_touch.ui.i18n import _, N_

#: teleop status code → text shown in the status line (a code without one is shown as it is)
STATUS_TEXTS: dict[Code, str] = {
    Code.OK: N_('OK'),
    Code.CLAMPED: N_('Target clamped to the workspace'),
    Code.UNREACHABLE: N_('Target unreachable'),
    Code.NEAR_SINGULARITY: N_('Near a singularity'),
    Code.JOINT_LIMIT: N_('At a joint limit'),
    Code.HALTED: N_('Halted'),
    Code.ESTOP: N_('E-STOP active'),
    Code.NO_JOINT_STATES: N_('No joint states'),
    Code.DISABLED: N_('Disabled'),
    Code.INVALID_POSE: N_('Target rejected: not a valid pose'),
    Code.UNKNOWN_FRAME: N_('Target rejected: unknown frame'),
    Code.UNKNOWN_JOINT: N_('Rejected: unknown joint'),
    Code.INVALID_VALUE: N_('Rejected: invalid value'),
    Code.OUT_OF_ORDER: N_('Rejected: message out of order'),
    Code.FREE_DRIVE: N_('Free drive: move the arm by hand'),
}


def status_code(message: str) -> str:
    """
    Return the status code teleop/status's ``message`` starts with.

    The code is the message's first word ("clamped", or "clamped: detail"); an empty message is
    :attr:`Code.OK`. A word that is no :class:`Code` (a newer teleop) is returned as it is.
    """
    words = message.partition(':')[0].split()
    if not words:
        return Code.OK.value
    try:
        return Code(words[0]).value
    except ValueError:
        return words[0]


def status_text(code: str) -> str:
    """Return the status line's words for a teleop status ``code`` (one without text: itself)."""
    try:
        text = STATUS_TEXTS.get(Code(code))
    except ValueError:
        text = None
    return code if text is None else _(text)


#: service name (its last parts) → the control the user touched, for answers shown on screen
SERVICE_ACTIONS = {
    'teleop/estop': N_('E-STOP'),
    'teleop/enable': N_('Enable'),
    'teleop/home': N_('Home'),
    'teleop/free_drive': N_('Free drive'),
    'set_parameters': N_('Speed'),
}


def answer_text(service: str, success: bool, message: str) -> str | None:
    """
    Return what to show for a service answer.

    Nothing when it succeeded, else which control was refused and the teleop side's reason (or that
    nobody answered).
    """
    if success:
        return None
    label = next((label for key, label in SERVICE_ACTIONS.items() if service.endswith(key)), None)
    action = _(label) if label else service
    if label and message.lower().startswith(f'{label.lower()} refused: '):
        message = message[len(label) + len(' refused: '):]  # said once is enough
    return _('{action} refused: {reason}').format(
        action=action, reason=message or _('no reason given')
    )


#: a Cartesian step whose tip ends further than this from its target failed (mm); the demo's
#: targets are all reachable, and the arm settles within a millimetre of them
TOLERANCE_MM = 10.0
#: Home failed when a joint ends further than this from the profile's home (rad)
HOME_TOLERANCE_RAD = 0.05


def judge_step(
    label: str,
    miss_mm: float | None,
    tolerance_mm: float = TOLERANCE_MM,
    needs_target: bool = False,
) -> str | None:
    """
    Why a demo step failed, or None.

    It missed its target by more than ``tolerance_mm``, or (``needs_target``) its gesture set no
    target at all (``miss_mm`` None).
    """
    if needs_target and miss_mm is None:
        return f'{label}: the gesture set no target'
    if miss_mm is not None and miss_mm > tolerance_mm:
        return (
            f'{label}: the tip ended {miss_mm:.1f} mm from the target '
            f'(tolerance {tolerance_mm:g} mm)'
        )
    return None


def judge_home(
    joints: dict[str, float], home: dict[str, float], tolerance: float = HOME_TOLERANCE_RAD
) -> str | None:
    """Why Home failed, or None: a joint is further than ``tolerance`` from its home."""
    off = {name: abs(joints[name] - value) for name, value in home.items() if name in joints}
    worst = max(off, key=off.get) if off else None
    if worst is not None and off[worst] > tolerance:
        return f'Home: {worst} ended {off[worst]:.3f} rad from home (tolerance {tolerance:g} rad)'
    return None
