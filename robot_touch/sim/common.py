"""
What callers of the simulation need without importing MuJoCo.

The node and the command line read their parameters, errors and poses from here before the
OpenGL backend is chosen (:func:`robot_touch.sim.gl.prepare_gl`), so that choice is made once,
at the entry point, before ``mujoco`` is first imported.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from robot_touch.core.profile import ArmProfile
from robot_touch.errors import RobotTouchError

#: Largest time step accepted (s): the controllers expect at least 500 Hz of physics.
MAX_TIMESTEP = 0.002


class SimCommandError(RobotTouchError, ValueError):
    """A command the simulation refused (wrong length, NaN, unknown joint); state unchanged."""


class RenderUnavailable(RobotTouchError):
    """No OpenGL backend could render off-screen here."""


@dataclass(frozen=True)
class ArmState:
    """
    A snapshot of the simulated joints, in the profile's joint order.

    ``positions`` rad (m), ``velocities`` rad/s (m/s), ``efforts`` actuator force N m (N),
    ``time`` simulated seconds since the start.
    """

    time: float
    names: tuple[str, ...]
    positions: np.ndarray
    velocities: np.ndarray
    efforts: np.ndarray


def parse_positions(text: str, profile: ArmProfile) -> list[float] | None:
    """
    Return a pose given as text: ``home`` → None (the profile's home), ``zero``, or numbers.

    Numbers in joint order, separated by commas or spaces, arm joints then the gripper (rad, m).

    :raises ValueError: naming the joints expected.
    """
    words = text.strip().lower()
    if words in ('', 'home'):
        return None
    count = len(profile.all_joints)
    if words == 'zero':
        return [0.0] * count
    try:
        values = [float(v) for v in words.replace(',', ' ').split()]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        names = ', '.join(j.name for j in profile.all_joints)
        raise ValueError(f'a pose must be home, zero or {count} numbers ({names}), got {text!r}')
    return values


__all__ = ['ArmState', 'MAX_TIMESTEP', 'RenderUnavailable', 'SimCommandError', 'parse_positions']
