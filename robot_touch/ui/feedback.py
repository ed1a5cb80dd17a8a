"""
What the UI and its demo tell the user about outcomes.

A refused (or unanswered) service call, a demo step that did not arrive. Pure functions, no Kivy:
tested without a window.
"""

from __future__ import annotations

from robot_touch.ui.i18n import _, N_

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
