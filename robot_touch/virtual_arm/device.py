"""The controller side of a servo bus, emulated: what the virtual arm runs on its pty.

A :class:`DeviceEmulator` takes the raw bytes a host sends and returns the bytes a real
controller would answer, parsing strictly (a bad checksum gets no reply, as on the device).
Each servo is a :class:`ServoModel` that moves toward its goal at a realistic speed.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping


@dataclass
class ServoModel:
    """One emulated servo (or PWM channel), in raw units.

    Args:
        servo_id: bus id or PWM channel.
        position: present position (raw units, float so slow moves accumulate).
        goal: goal position (raw units).
        speed: maximum slew rate, raw units per second.
        minimum / maximum: the raw range the device accepts (goals are clamped into it).
    """

    servo_id: int
    position: float
    goal: float
    speed: float
    minimum: float
    maximum: float
    torque_enabled: bool = True
    voltage: float = 7.4  # volts
    temperature: float = 32.0  # degrees Celsius

    def set_goal(self, raw: float) -> None:
        self.goal = min(self.maximum, max(self.minimum, raw))

    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds: slew toward the goal (no motion without torque)."""
        if not self.torque_enabled:
            return
        delta = self.goal - self.position
        limit = self.speed * dt
        self.position += max(-limit, min(limit, delta))

    @property
    def moving(self) -> bool:
        return self.torque_enabled and abs(self.goal - self.position) > 0.5


class DeviceEmulator(ABC):
    """Emulated controller for one protocol.

    Args:
        servos: the servos on the bus by id (or channel).
        options: protocol options (the profile's ``protocol_options``).
    """

    #: registry name, identical to the host-side backend's
    name: ClassVar[str] = ""

    def __init__(self, servos: Mapping[int, ServoModel], options: Mapping[str, Any] | None = None) -> None:
        self.servos = dict(servos)
        self.options = dict(options or {})

    @abstractmethod
    def feed(self, data: bytes) -> list[bytes]:
        """Consume bytes from the host; return the replies, in order, for every complete frame.

        Partial frames stay buffered until the rest arrives; garbage before a frame header is
        skipped; frames with a bad checksum or unknown instruction produce no reply.
        """

    def step(self, dt: float) -> None:
        """Advance every servo by ``dt`` seconds."""
        for servo in self.servos.values():
            servo.step(dt)

    def reset(self) -> None:
        """Drop any partial frame (after a simulated unplug or a controller reset)."""
