"""
The ``teleop`` parameters settable while it runs, and what a request to set one gets.

``speed_override`` is checked against its range and handed to the core at once.
``free_drive_joints`` (the joints ``teleop/free_drive`` releases) is resolved against the arm's
joints, and refused while free drive is on. Every other parameter is read at start-up. The node
turns a refusal into ``SetParametersResult(successful=False, reason=...)``.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence

from robot_touch.core.free_drive import resolve_joints
from robot_touch.core.teleop_config import check_speed_override
from robot_touch.core.teleop_status import FreeDrivePhase

#: the parameters settable while teleop runs (declared ``read_only: False``)
LIVE_PARAMETERS = ('speed_override', 'free_drive_joints')


class LiveCore(Protocol):
    """What :class:`LiveParameters` needs of :class:`robot_touch.core.teleop_core.TeleopCore`."""

    def free_drive_state(self) -> tuple[FreeDrivePhase, list[str]]: ...

    def set_speed_override(self, value: float) -> None: ...


class LiveParameters:
    """
    Decide on requests to set teleop's parameters while it runs.

    :param core: the teleop core (takes the speed override, tells the free drive phase).
    :param all_joints: every joint of the arm, the gripper included.
    :param commanded_joints: the joints teleop commands.
    :param free_drive_joints: the start-up ``free_drive_joints`` (empty: every commanded joint).
    :raises ValueError: ``free_drive_joints`` names a joint teleop cannot release.
    """

    def __init__(
        self,
        core: LiveCore,
        all_joints: Sequence[str],
        commanded_joints: Sequence[str],
        free_drive_joints: Sequence[str],
    ) -> None:
        self._core = core
        self._all_joints = list(all_joints)
        self._commanded_joints = list(commanded_joints)
        #: the joints teleop/free_drive releases
        self.free_drive_joints = resolve_joints(
            list(free_drive_joints), self._all_joints, self._commanded_joints
        )

    def take_all(self, params: Iterable[tuple[str, Any]]) -> str | None:
        """
        Take each (name, value) in turn; stop at the first refused.

        The ones before a refused one are taken.

        :returns: why the first refused one is refused, or None when all are taken.
        """
        for name, value in params:
            refusal = self.take(name, value)
            if refusal:
                return refusal
        return None

    def take(self, name: str, value: Any) -> str | None:
        """Take the parameter ``name`` = ``value``; return why not, or None when taken."""
        if name == 'free_drive_joints':
            return self._set_free_drive_joints(value)
        if name != 'speed_override':
            return f'{name} is read at start-up; restart teleop to change it'
        try:
            override = check_speed_override(value)
        except ValueError as exc:
            return str(exc)
        self._core.set_speed_override(override)
        return None

    def _set_free_drive_joints(self, value: Any) -> str | None:
        """Take a new ``free_drive_joints``; return why not, or None."""
        phase, joints = self._core.free_drive_state()
        if phase != FreeDrivePhase.OFF:
            return f'free drive is on ({", ".join(joints)}): leave it before choosing other joints'
        try:
            self.free_drive_joints = resolve_joints(
                list(value or []), self._all_joints, self._commanded_joints
            )
        except ValueError as exc:
            return str(exc)
        return None
