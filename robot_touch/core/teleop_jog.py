"""
Teleop's jog inputs: a tip twist or joint velocities, followed each control cycle.

:func:`cartesian_step` is the Cartesian step, pure: twist → joint velocities by weighted
damped least squares at the current setpoint, slowed near a singularity, and allowed to leave
one (:mod:`robot_touch.core.teleop_singularity` holds the maths). :class:`JogInputs` is the
part of :class:`~robot_touch.core.teleop_core.TeleopCore` that takes the jog messages and
runs the jog step of a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from robot_touch.core.motion import JointLimits
from robot_touch.core.teleop_config import Kinematics, TeleopConfig
from robot_touch.core.teleop_inputs import finite_vector, InputRejected, named_values
from robot_touch.core.teleop_singularity import (
    dls_joint_velocity,
    inverse_condition,
    scale_to_limits,
    singularity_speed_scale,
    tool_frame_jacobian,
)
from robot_touch.core.teleop_status import Code, Mode

#: Look-ahead step (rad, along the commanded joint direction) for "does this move lead away
#: from the singularity?".
ESCAPE_PROBE = 0.01
#: Fraction of the joint velocity limit used to leave an exact singularity when the damped
#: solution cannot move at all.
ESCAPE_SPEED = 0.1


@dataclass(frozen=True)
class CartesianStep:
    """
    One cycle of a Cartesian jog.

    :ivar qd: joint velocities (rad/s), within the velocity limits times the speed override.
    :ivar scale: the singularity speed scale applied (1 = full speed, 0 = stopped).
    :ivar condition: the Jacobian's condition number at the setpoint.
    :ivar hindered: True when the singularity slowed or redirected the motion.
    """

    qd: np.ndarray
    scale: float
    condition: float
    hindered: bool


def cartesian_step(
    kin: Kinematics,
    limits: JointLimits,
    config: TeleopConfig,
    q: np.ndarray,
    twist: np.ndarray,
    *,
    in_base_frame: bool,
    weights: Sequence[float],
    override: float,
) -> CartesianStep:
    """
    Return the joint velocities that move the tip at ``twist`` from the setpoint ``q``.

    :param twist: (vx, vy, vz, wx, wy, wz) in the base frame when ``in_base_frame``, else in
        the tool frame.
    :param weights: the profile's task weights (tool frame).
    :param override: the live speed override.
    """
    T = kin.fk(q)
    R = T[:3, :3]
    J = kin.jacobian(q)
    twist = twist.copy()
    if in_base_frame:
        # Express both in the tool frame, where the task weights are defined.
        twist = np.concatenate((R.T @ twist[:3], R.T @ twist[3:]))
    Jt = tool_frame_jacobian(J, R)
    qd = dls_joint_velocity(Jt, twist, weights, config.singularity_damping)
    cond = kin.condition(q)
    scale = singularity_speed_scale(cond, config.singularity_slow, config.singularity_stop)
    w = np.asarray(weights)
    wanted = float(np.linalg.norm(w * twist))
    # Share of the requested (weighted) twist the damped solution really produces.
    achieved = float(np.linalg.norm(w * (Jt @ qd))) / wanted if wanted > 0 else 1.0
    hindered = False
    if scale < 1.0 and wanted > 0:
        # Moving away from the singularity needs no damping (damping is what would keep
        # the arm there): take the plain least-squares motion if it lowers the condition
        # number; the joint velocity limits bound it.
        qd_ls = dls_joint_velocity(Jt, twist, weights, 0.0)
        norm = float(np.linalg.norm(qd_ls))
        escaping = False
        if norm > 1e-12:
            ahead = limits.clamp(q + qd_ls / norm * ESCAPE_PROBE)
            escaping = inverse_condition(kin.condition(ahead)) >= inverse_condition(cond)
            achieved = float(np.linalg.norm(w * (Jt @ qd_ls))) / wanted
        if escaping and achieved >= 0.5:
            qd, scale = qd_ls, 1.0
        elif cond >= config.singularity_stop:
            # Stuck at (or next to) the singularity: nudge the single joint that best
            # raises dexterity without moving the tip against the request.
            qd = escape_velocity(kin, limits, q, R, twist)
            scale = 1.0 if np.any(qd) else 0.0
        hindered = True
    elif cond > config.singularity_slow and achieved < 0.5:
        hindered = True
    qd, _ = scale_to_limits(qd * scale * override, limits.velocity * override)
    return CartesianStep(qd, scale, cond, hindered)


def escape_velocity(
    kin: Kinematics, limits: JointLimits, q: np.ndarray, R: np.ndarray, twist_tool: np.ndarray
) -> np.ndarray:
    """
    Return the velocity of the one joint whose nudge best raises dexterity at ``q``.

    The nudge must not move the tip against the requested linear velocity; zero when no
    joint helps. ``R`` is the tip's rotation, ``twist_tool`` the request in the tool frame.
    """
    base = inverse_condition(kin.condition(q))
    v_base = R @ twist_tool[:3]
    best, best_gain = None, 0.0
    for i in range(len(q)):
        for sign in (1.0, -1.0):
            probe = q.copy()
            probe[i] += sign * ESCAPE_PROBE
            if not limits.lower[i] <= probe[i] <= limits.upper[i]:
                continue
            gain = inverse_condition(kin.condition(probe)) - base
            # Tip motion of this nudge, to second order (FK difference), must not oppose
            # the request.
            dp = kin.fk(probe)[:3, 3] - kin.fk(q)[:3, 3]
            if gain > best_gain and float(dp @ v_base) >= 0.0:
                best, best_gain = (i, sign), gain
    qd = np.zeros(len(q))
    if best is not None:
        qd[best[0]] = best[1] * ESCAPE_SPEED * limits.velocity[best[0]]
    return qd


def joints_at_limit(
    names: Sequence[str], limits: JointLimits, q: np.ndarray, qd: np.ndarray
) -> list[str]:
    """Return the joints at a limit that ``qd`` drives them further into."""
    at_limit = ((qd > 0) & (q >= limits.upper - 1e-6)) | ((qd < 0) & (q <= limits.lower + 1e-6))
    return [n for n, a in zip(names, at_limit) if a]


class JogInputs:
    """
    Part of :class:`~robot_touch.core.teleop_core.TeleopCore`: the jog messages and step.

    Uses the core's state (listed in ``TeleopCore.__init__``); every method takes its lock.
    """

    def on_jog(
        self,
        frame_id: str,
        linear: Sequence[float],
        angular: Sequence[float],
        stamp: float = 0.0,
        now: float = 0.0,
        clock: float | None = None,
        sender: Any = None,
    ) -> Code:
        """
        Jog the tip at a velocity (m/s, rad/s) in the base frame or the tool frame.

        The base frame is base_link, "" or any frame fixed to it (rotated into the base frame);
        the tool frame is tip_link.
        """
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                if frame_id == self.profile.tip_link:
                    frame, R = 'tool', np.eye(3)
                else:
                    frame = 'base'
                    R = self._frame(frame_id, 'jog', extra=[self.profile.tip_link])[:3, :3]
                v = R @ finite_vector('jog linear', linear, 3)
                w = R @ finite_vector('jog angular', angular, 3)
                self._stamps.check('jog', stamp, clock, sender)
            except InputRejected as exc:
                return self._reject(exc)
            clamped = False
            nv, nw = float(np.linalg.norm(v)), float(np.linalg.norm(w))
            if nv > self.config.cartesian_speed:
                v *= self.config.cartesian_speed / nv
                clamped = True
            if nw > self.config.angular_speed:
                w *= self.config.angular_speed / nw
                clamped = True
            self._twist = np.concatenate((v, w))
            self._twist_frame = frame
            self._joint_velocity = None
            self._mode = Mode.JOG
            self._jog_at = now
            if clamped:
                self._event(Code.CLAMPED, 'jog faster than cartesian_speed/angular_speed; limited')
            elif self._code not in (Code.NEAR_SINGULARITY, Code.JOINT_LIMIT):
                self._event(Code.OK)
            return self._code

    def on_joint_jog(
        self,
        names: Sequence[str],
        velocities: Sequence[float],
        stamp: float = 0.0,
        now: float = 0.0,
        clock: float | None = None,
        sender: Any = None,
    ) -> Code:
        """Joint velocities (rad/s) by name; joints not named stay still."""
        with self._lock:
            try:
                gate = self._gate()
                if gate:
                    raise gate
                values = named_values('joint_jog', names, velocities, self.names)
                self._stamps.check('joint_jog', stamp, clock, sender)
            except InputRejected as exc:
                return self._reject(exc)
            qd = np.array([values.get(n, 0.0) for n in self.names])
            limited = np.clip(qd, -self.limits.velocity, self.limits.velocity)
            self._joint_velocity = limited
            self._twist = None
            self._mode = Mode.JOINT_JOG
            self._jog_at = now
            if np.any(limited != qd):
                self._event(
                    Code.CLAMPED, 'joint_jog faster than the joint velocity limits; limited'
                )
            elif self._code != Code.JOINT_LIMIT:
                self._event(Code.OK)
            return self._code

    def _joint_jog(self) -> None:
        """Follow the joint velocities (lock held)."""
        qd = self._joint_velocity * self._override
        self.gen.set_speed_scale(self._override)
        self.gen.jog(qd)
        self._limit_event(qd)

    def _limit_event(self, qd: np.ndarray) -> None:
        """Say which joints ``qd`` pushes against their limit, or end that event (lock held)."""
        names = joints_at_limit(self.names, self.limits, self.gen.position, qd)
        if names:
            self._event(Code.JOINT_LIMIT, f'at the joint limit: {", ".join(names)}')
        else:
            self._clear_event(Code.JOINT_LIMIT)

    def _cartesian_jog(self) -> None:
        """Follow the twist at the current setpoint (damped, singularity-aware; lock held)."""
        step = cartesian_step(
            self.kin,
            self.limits,
            self.config,
            self.gen.position,
            self._twist,
            in_base_frame=self._twist_frame == 'base',
            weights=self.profile.task_weights,
            override=self._override,
        )
        self._condition = step.condition
        self._sing_scale = step.scale
        if step.hindered:
            # A fixed sentence: the live numbers are in the status values (condition,
            # singularity_scale), so the status does not "change" every cycle.
            self._event(
                Code.NEAR_SINGULARITY,
                'near a singularity: jog slowed; move away from it to speed up',
            )
        else:
            self._clear_event(Code.NEAR_SINGULARITY)
        self.gen.set_speed_scale(self._override)
        self.gen.jog(step.qd)
        if self._code != Code.NEAR_SINGULARITY:
            self._limit_event(step.qd)
