"""
Teleop's standing conditions: the input gate, e-stop, enable, free drive's phases, braking.

A controlled stop (e-stop, disable, free drive, stale joint_states) brakes every joint to rest
within its limits from the command's current motion, then holds there. :class:`SafetyStates`
is that part of :class:`~robot_touch.core.teleop_core.TeleopCore`.
"""

from __future__ import annotations

from typing import Sequence

from robot_touch.core.teleop_inputs import InputRejected
from robot_touch.core.teleop_status import Code, FreeDrivePhase, Mode, SILENT_PHASES


class SafetyStates:
    """
    Part of :class:`~robot_touch.core.teleop_core.TeleopCore`: what stops or refuses motion.

    Uses the core's state (listed in ``TeleopCore.__init__``); every public method takes its
    lock.
    """

    def _gate(self) -> InputRejected | None:
        """Return why inputs that move the arm are refused right now, or None."""
        if self._estop:
            return InputRejected(Code.ESTOP.value, 'e-stop latched')
        if self._conflict:
            return InputRejected(
                Code.JOINT_STATES_CONFLICT.value, 'two publishers on joint_states'
            )
        if not self._backend_ok:
            return InputRejected(Code.NO_JOINT_STATES.value, 'no joint_states')
        if self._fd_phase != FreeDrivePhase.OFF:
            return InputRejected(
                Code.FREE_DRIVE.value,
                'free drive: leave it (teleop/free_drive data=false) to move the arm by touch',
            )
        if not self._enabled:
            return InputRejected(Code.DISABLED.value, 'teleop disabled')
        if self._mode == Mode.RELATCH:
            return InputRejected(
                Code.RELATCHING.value, 're-latching to the measured joints; try again in a moment'
            )
        return None

    def _brake(self) -> None:
        """Stop following any input and brake the arm and the gripper to rest (lock held)."""
        self._set_mode(Mode.IDLE)
        self.gen.brake()
        if self.gripper_gen is not None:
            self.gripper_gen.brake()

    def set_estop(self, active: bool) -> tuple[bool, str]:
        """
        Latch (True) or release (False) the e-stop. Returns (success, message).

        Latching is a controlled stop: every joint decelerates to rest within its limits from
        the command's current motion (never a step back to a lagging measurement, never to
        anything another publisher claims), then holds there. Release re-latches to the
        measured joints (:meth:`_latch`).
        """
        with self._lock:
            if active:
                if not self._estop:
                    self._estop = True
                    self._brake()
                return True, 'e-stop latched: braking to rest, then holding'
            if self._estop:
                self._estop = False
                self._need_latch = True
                self._event(Code.OK, 'e-stop released')
            return True, 'e-stop released'

    def set_enabled(self, enabled: bool) -> tuple[bool, str]:
        """
        Enable (re-latch to the measured joints) or disable (brake, then stop commanding).

        Enabling is refused while two publishers send joint_states (nothing to latch to).
        """
        with self._lock:
            if enabled and self._conflict:
                return False, (
                    'not enabled: two publishers on joint_states; stop the other one first'
                )
            if enabled and not self._enabled:
                self._enabled = True
                self._need_latch = True
                self._event(Code.OK, 'enabled')
            elif not enabled and self._enabled:
                self._enabled = False
                self._brake()
            return True, 'enabled' if enabled else 'disabled'

    # ------------------------------------------------------------------ free drive

    def free_drive_state(self) -> tuple[FreeDrivePhase, list[str]]:
        """Return free drive's phase and the joints it releases."""
        with self._lock:
            return self._fd_phase, list(self._fd_joints)

    def free_drive_refusal(self) -> str | None:
        """Return why free drive cannot start now, or None (lock taken)."""
        with self._lock:
            if self._estop:
                return 'e-stop latched: release it first'
            if self._conflict:
                return "two publishers on joint_states: the arm's position is not known"
            if not self._backend_ok:
                return "no joint_states: the arm's position is not known"
            if self._fd_phase != FreeDrivePhase.OFF:
                on = self._fd_phase == FreeDrivePhase.ON
                return f'free drive is {"on" if on else "changing"} already'
            return None

    def free_drive_stop(self, joints: Sequence[str]) -> str | None:
        """
        Start free drive of ``joints``.

        Brake to rest (inputs refused from now). Returns why not, or None.
        """
        with self._lock:
            refusal = self.free_drive_refusal()
            if refusal:
                return refusal
            self._fd_phase = FreeDrivePhase.STOPPING
            self._fd_joints, self._fd_note = list(joints), ''
            self._brake()
            return None

    def free_drive_at_rest(self) -> bool:
        """Return whether the command has come to rest (or nothing is being published)."""
        with self._lock:
            gripper_rests = self.gripper_gen is None or self.gripper_gen.mode == 'hold'
            return not self._publishing or (self.gen.mode == 'hold' and gripper_rests)

    def free_drive_phase(
        self, phase: FreeDrivePhase | str, joints: Sequence[str] | None = None, note: str = ''
    ) -> None:
        """
        Enter ``phase`` (releasing, on, engaging), ``joints`` released.

        From releasing on, no command is published, and the old setpoint is forgotten for good.
        """
        phase = FreeDrivePhase(phase)
        with self._lock:
            self._fd_phase, self._fd_note = phase, note
            if joints is not None:
                self._fd_joints = list(joints)
            if phase in SILENT_PHASES:
                self._publishing = False
                self._last_output = None
                self._last_gripper = None

    def free_drive_end(self, now: float, note: str = '') -> None:
        """
        End free drive: every joint holds torque again, measured after ``now``.

        The next command is the measured position, once joint_states newer than ``now`` arrive.
        """
        with self._lock:
            was_silent = self._fd_phase in SILENT_PHASES
            self._fd_phase, self._fd_joints, self._fd_note = FreeDrivePhase.OFF, [], ''
            self._set_mode(Mode.IDLE)
            self._need_latch = True
            if was_silent:
                self._latch_after = now
            self._event(Code.OK, note)
