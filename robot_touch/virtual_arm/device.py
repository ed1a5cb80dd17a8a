"""
The controller side of a servo bus, emulated: what the virtual arm runs on its pty.

A :class:`DeviceEmulator` takes the raw bytes a host sends and returns the bytes a real
controller would answer, parsing strictly (a bad checksum gets no reply, as on the device).
Each servo is a :class:`ServoModel`: the physical servo, in the units of its own sensor,
that moves toward its goal at a realistic speed while it holds torque and can be turned by
hand (:meth:`ServoModel.push`) while it does not.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
import math
from typing import Any, ClassVar, Mapping

#: A servo counts as moving while it turns faster than this (raw units per second).
MOVING_SPEED = 0.5


@dataclass
class ServoModel:
    """
    One emulated servo (or PWM channel): its physical state, in raw sensor units.

    ``position`` is the *actual* position: the encoder count of a bus servo before any
    offset or direction setting of its control table is applied (those are the device's
    business), or the pulse width of a PWM channel. It is a float, unwrapped (a hand may turn
    a servo past one revolution), so that slow moves accumulate.

    :param servo_id: bus id or PWM channel.
    :param position: actual position (raw units).
    :param goal: where the servo drives to while it holds torque (actual raw units).
    :param speed: slew-rate limit of the current move, raw units per second.
    :param torque_enabled: holding torque (False: limp, a hand can turn it).
    :param acceleration: acceleration limit, raw units per s² (0: none, the speed is reached at
        once).
    """

    servo_id: int
    position: float
    goal: float
    speed: float
    torque_enabled: bool = True
    voltage: float = 7.4  # volts
    temperature: float = 32.0  # degrees Celsius
    acceleration: float = 0.0
    #: signed speed of the last step, raw units per second (what a servo reports)
    velocity: float = 0.0
    #: where a hand is turning the limp servo to (None: nobody is touching it)
    hand_target: float | None = None
    hand_speed: float = 0.0

    def set_goal(self, raw: float) -> None:
        """Drive to ``raw`` (actual units) while torque is on."""
        self.goal = raw

    def push(self, target: float, speed: float) -> None:
        """
        Turn the servo by hand to ``target`` at ``speed`` raw units/s.

        Only while limp: the caller checks, as a holding servo cannot be turned by hand.
        """
        self.hand_target = target
        self.hand_speed = speed

    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds: slew toward the goal under torque, or follow the hand."""
        if dt <= 0:
            return
        before = self.position
        if self.torque_enabled:
            self.hand_target = None
            self._drive(dt)
        elif self.hand_target is not None:
            delta = self.hand_target - self.position
            limit = self.hand_speed * dt
            if abs(delta) <= limit:
                self.position, self.hand_target = self.hand_target, None
            else:
                self.position += math.copysign(limit, delta)
        self.velocity = (self.position - before) / dt

    def _drive(self, dt: float) -> None:
        delta = self.goal - self.position
        if self.acceleration <= 0:
            self.position += max(-self.speed * dt, min(self.speed * dt, delta))
            return
        # trapezoidal profile: accelerate up to the speed limit, brake in time for the goal
        wanted = math.copysign(
            min(self.speed, math.sqrt(2.0 * self.acceleration * abs(delta))), delta
        )
        change = self.acceleration * dt
        step = (self.velocity + max(-change, min(change, wanted - self.velocity))) * dt
        if step * delta > 0 and abs(step) >= abs(delta):
            self.position = self.goal  # arrives within this step
        else:
            self.position += step

    @property
    def moving(self) -> bool:
        """Tell whether it turns (by its own torque or by hand) or is still short of its goal."""
        if abs(self.velocity) > MOVING_SPEED:
            return True
        return self.torque_enabled and abs(self.goal - self.position) > 0.5


class DeviceEmulator(ABC):
    """
    Emulated controller for one protocol.

    :param servos: the servos on the bus by id (or channel).
    :param options: protocol options (the profile's ``protocol_options``).
    """

    #: registry name, identical to the host-side backend's
    name: ClassVar[str] = ''

    def __init__(
        self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None
    ) -> None:
        self.servos = dict(servos)
        self.options = dict(options or {})

    @abstractmethod
    def feed(self, data: bytes) -> list[bytes]:
        """
        Consume bytes from the host; return the replies, in order, for every complete frame.

        Partial frames stay buffered until the rest arrives; garbage before a frame header is
        skipped; frames with a bad checksum or unknown instruction produce no reply.
        """

    def step(self, dt: float) -> None:
        """Advance every servo by ``dt`` seconds."""
        for servo in self.servos.values():
            servo.step(dt)

    def reset(self) -> None:
        """Drop any partial frame (after a simulated unplug or a controller reset)."""

    def power_cycle(self) -> None:
        """
        Switch the servos' supply off and on.

        Each servo restarts from what it keeps over a power cycle (bus servos: their EEPROM; they
        come back released).
        """
        raise NotImplementedError(f'{type(self).__name__} does not emulate a power cycle')

    def set_line_speed(self, baudrate: int | None) -> None:
        """
        Note the bit rate the host's port is set to (None: unknown).

        A bus device answers only the servos configured for that rate, as a servo at another rate
        sees garbage.
        """

    def present_position(self, servo_id: int) -> float:
        """Return what the servo would report as its position now (own units, offsets applied)."""
        return self.servos[servo_id].position
