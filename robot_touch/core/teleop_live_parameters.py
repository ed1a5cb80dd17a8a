"""
The ``teleop`` parameters settable while it runs, and what a request to set one gets.

``speed_override`` is checked against its range and handed to the core at once.
``free_drive_joints`` (the joints ``teleop/free_drive`` releases) is resolved against the arm's
joints, and refused while free drive is on. Every other parameter is read at start-up. The node
turns a refusal into ``SetParametersResult(successful=False, reason=...)``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Protocol, Sequence

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
        Take every (name, value) of one request, or none of them.

        rclpy keeps every parameter's old value when the request is refused, so a refused
        request changes nothing here either: the core and the node's parameters always agree.

        :returns: why the first refused one is refused (nothing taken), or None when all are.
        """
        changes = []
        for name, value in params:
            refusal, change = self._check(name, value)
            if refusal:
                return refusal
            changes.append(change)
        for change in changes:
            change()
        return None

    def take(self, name: str, value: Any) -> str | None:
        """Take the parameter ``name`` = ``value``; return why not, or None when taken."""
        return self.take_all([(name, value)])

    def _check(self, name: str, value: Any) -> tuple[str | None, Callable[[], None]]:
        """Return (why ``name`` = ``value`` is refused, or None; what taking it does)."""
        if name == 'free_drive_joints':
            phase, joints = self._core.free_drive_state()
            if phase != FreeDrivePhase.OFF:
                refusal = (
                    f'free drive is on ({", ".join(joints)}): leave it before choosing other '
                    'joints'
                )
                return refusal, _nothing
            try:
                resolved = resolve_joints(
                    list(value or []), self._all_joints, self._commanded_joints
                )
            except ValueError as exc:
                return str(exc), _nothing
            return None, lambda: setattr(self, 'free_drive_joints', resolved)
        if name != 'speed_override':
            return f'{name} is read at start-up; restart teleop to change it', _nothing
        try:
            override = check_speed_override(value)
        except ValueError as exc:
            return str(exc), _nothing
        return None, lambda: self._core.set_speed_override(override)


def _nothing() -> None:
    """Change nothing (the change of a refused parameter)."""
