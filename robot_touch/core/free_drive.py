"""
Free drive (teach by hand): release joints, then hold them exactly where a person left them.

Pure Python: the hardware's torque is reached through a :class:`TorqueSwitch` (the teleop
node's is the ``torque/<joint>`` services of the serial bridge or the MuJoCo sim), time is
passed in.

The sequence (:class:`FreeDrive`):

* **enter** (``teleop/free_drive`` data=true): refused while the e-stop is latched, without
  joint_states, or when the hardware cannot release joints (no ``torque/<joint>`` service:
  Gazebo; the bridge refuses on PWM boards, whose released servos report no position). The
  command brakes to rest, then teleop stops publishing, then the joints are released. A
  joint that could not be released is switched back on and the whole request refused.
* **on**: nothing is published; joint_states go on, so the UI follows the arm and a waypoint
  taught now holds the measured pose.
* **leave** (data=false): torque back on (the hardware first sets each goal to the measured
  position), then teleop re-latches to joint_states measured after that: its first command
  is where the arm is; the setpoint from before free drive is forgotten.
* **e-stop** during free drive: the arm's profile says what is safe (``free_drive.estop``):
  ``hold`` (default) switches torque back on holding where the arm is, as an industrial arm's
  brakes close on an e-stop; ``release`` keeps torque off. Either way nothing moves it and
  no command follows until the e-stop is released.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Protocol, Sequence

from robot_touch.core.teleop_status import FreeDrivePhase

#: what an e-stop during free drive does (the profile's ``free_drive.estop``)
ESTOP_POLICIES = ('hold', 'release')
#: longest the command may take to brake to rest before the joints are released (s)
STOP_TIMEOUT = 3.0


class TorqueSwitch(Protocol):
    """The hardware's torque, per joint."""

    def missing(self, joints: Sequence[str]) -> str | None:
        """Why the torque of ``joints`` cannot be switched at all (no such service), or None."""

    def switch(self, joints: Sequence[str], on: bool) -> list[tuple[str, bool, str]]:
        """Switch ``joints``; (joint, success, the hardware's message) for each."""


class FreeDriveCore(Protocol):
    """What :class:`FreeDrive` needs from :class:`~robot_touch.core.teleop_core.TeleopCore`."""

    estopped: bool

    def free_drive_state(self) -> tuple[FreeDrivePhase, list[str]]: ...

    def free_drive_refusal(self) -> str | None: ...

    def free_drive_stop(self, joints: Sequence[str]) -> str | None: ...

    def free_drive_at_rest(self) -> bool: ...

    def free_drive_phase(
        self, phase: FreeDrivePhase, joints: Sequence[str] | None = None, note: str = ''
    ) -> None: ...

    def free_drive_end(self, now: float, note: str = '') -> None: ...


def resolve_joints(
    requested: Sequence[str], known: Sequence[str], default: Sequence[str]
) -> list[str]:
    """
    Return the joints free drive releases: ``requested`` (empty: ``default``), checked.

    :raises ValueError: an unknown or repeated joint, naming the known ones.
    """
    names = [str(n) for n in requested]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(
            f'free_drive_joints: {", ".join(map(repr, unknown))} not a joint of this arm '
            f'(joints: {", ".join(known)}; empty = the whole arm)'
        )
    if len(set(names)) != len(names):
        raise ValueError(f'free_drive_joints: a joint is listed twice in {names}')
    return names or list(default)


def _failures(results: Sequence[tuple[str, bool, str]]) -> str:
    return '; '.join(f'{joint}: {message}' for joint, ok, message in results if not ok)


class FreeDrive:
    """
    Runs free drive's sequence between the teleop core and the hardware's torque.

    :param core: the teleop core (its free-drive phases).
    :param switch: the hardware's torque.
    :param estop_policy: ``hold`` or ``release`` (see the module docstring).
    :param clock: monotonic seconds.
    :param sleep: waits while the command brakes.
    """

    def __init__(
        self,
        core: FreeDriveCore,
        switch: TorqueSwitch,
        estop_policy: str = 'hold',
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if estop_policy not in ESTOP_POLICIES:
            raise ValueError(f'free_drive estop must be one of {", ".join(ESTOP_POLICIES)}')
        self.core = core
        self.switch = switch
        self.estop_policy = estop_policy
        self.clock = clock
        self.sleep = sleep
        # one sequence at a time: an e-stop's hold waits for an enter or leave under way
        self._sequence = threading.Lock()
        self._last_problem = ''

    def enter(self, joints: Sequence[str]) -> tuple[bool, str]:
        """Release ``joints`` for hand guiding. Returns (success, message)."""
        with self._sequence:
            refusal = self.core.free_drive_refusal() or self.switch.missing(joints)
            if not refusal:
                refusal = self.core.free_drive_stop(joints)  # brakes to rest
            if refusal:
                return False, f'free drive refused: {refusal}'
            deadline = self.clock() + STOP_TIMEOUT
            while not self.core.free_drive_at_rest():
                if self.clock() > deadline or self.core.estopped:
                    break
                self.sleep(0.005)
            if self.core.estopped or not self.core.free_drive_at_rest():
                why = 'e-stop latched' if self.core.estopped else 'the arm did not come to rest'
                self.core.free_drive_end(self.clock())
                return False, f'free drive refused: {why}'
            self.core.free_drive_phase(FreeDrivePhase.RELEASING, joints)
            results = self.switch.switch(joints, on=False)
            problem = _failures(results)
            if problem:
                released = [j for j, ok, _ in results if ok]
                left = self._engage(released) if released else []
                if left:  # could not hold them again either: they stay in free drive
                    note = f'could not release {problem}'
                    self.core.free_drive_phase(FreeDrivePhase.ON, left, note)
                    return False, f'free drive partly on ({", ".join(left)}): {note}'
                self.core.free_drive_end(self.clock())
                return False, f'free drive refused: {problem}'
            self.core.free_drive_phase(FreeDrivePhase.ON, joints)
            if self.core.estopped and self.estop_policy == 'hold':
                self._hold_now('e-stop latched meanwhile')
                return (
                    False,
                    'free drive refused: e-stop latched meanwhile; holding where the arm is',
                )
            return True, (
                f'free drive: {", ".join(joints)} released (torque off): move the arm by hand; '
                'it sags under gravity, so support it'
            )

    def leave(self) -> tuple[bool, str]:
        """Every released joint holds torque again, where it is. Returns (success, message)."""
        with self._sequence:
            phase, joints = self.core.free_drive_state()
            if phase == FreeDrivePhase.OFF:
                return True, 'free drive is off'
            return self._hold_now('')

    def estop_latched(self) -> None:
        """
        Handle the e-stop being latched.

        Under the ``hold`` policy, torque back on where the arm is (run it off the e-stop service's
        thread: it waits for the hardware).
        """
        if self.estop_policy != 'hold':
            return
        with self._sequence:
            if self.core.free_drive_state()[0] == FreeDrivePhase.ON:
                self._hold_now('e-stop')

    def _hold_now(self, why: str) -> tuple[bool, str]:
        """Torque on for the released joints (sequence lock held)."""
        _phase, joints = self.core.free_drive_state()
        self.core.free_drive_phase(FreeDrivePhase.ENGAGING, joints)
        left = self._engage(joints)
        if left:
            note = f'torque not back on: {self._last_problem}'
            self.core.free_drive_phase(FreeDrivePhase.ON, left, note)
            return False, f'{note}; still in free drive: {", ".join(left)}'
        prefix = f'{why}: ' if why else ''
        self.core.free_drive_end(
            self.clock(), f'{prefix}free drive ended, holding where the arm is'
        )
        return True, f'{prefix}free drive off: torque on, holding where the arm is'

    def _engage(self, joints: Sequence[str]) -> list[str]:
        """Torque on for ``joints``; the ones still released."""
        results = self.switch.switch(joints, on=True)
        self._last_problem = _failures(results)
        return [j for j, ok, _ in results if not ok]
