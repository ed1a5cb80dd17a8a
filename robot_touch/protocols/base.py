"""
The host side of a servo bus: one small base class every protocol backend implements.

A backend speaks one controller protocol over an already-open pyserial port and works only
in raw servo units (integers: Feetech/Dynamixel steps, PWM microseconds). Converting radians
to raw units (calibration) and deciding what to do with a stale joint is the bridge's job.

Layering follows lerobot's MotorsBus -> FeetechMotorsBus split: this module is the generic
contract, ``<vendor>.py`` the protocol, ``<vendor>_tables.py`` the vendor's register tables.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

from robot_touch.errors import RobotTouchError


class ProtocolError(RobotTouchError):
    """Wrong use of a backend (unknown protocol, bad option, id out of range): a user error."""


class BusError(Exception):
    """
    The bus did not deliver a valid reply (timeout, bad checksum, truncated frame).

    Backends retry internally; this escapes only when every retry failed for a whole call
    that has no per-servo result (e.g. a ping).
    """


class PortGone(BusError):
    """The serial port itself failed (unplugged, EIO): the bridge must reconnect."""


@dataclass
class ServoStatus:
    """Health of one servo, as far as the protocol reports it (None = not reported)."""

    voltage: float | None = None  # volts
    temperature: float | None = None  # degrees Celsius
    load: float | None = None  # fraction of maximum, signed
    moving: bool | None = None
    error_flags: list[str] = field(default_factory=list)  # e.g. ["overheat", "overload"]


@dataclass
class BusStats:
    """Counters a backend keeps for diagnostics."""

    writes: int = 0
    reads: int = 0
    retries: int = 0
    bad_replies: int = 0  # checksum errors, truncated or malformed frames
    timeouts: int = 0


class ServoBus(ABC):
    """
    One serial bus of servos, spoken to in one protocol.

    :param port: an open pyserial port (``serial.serial_for_url`` result, pty, loop://).
    :param ids: the servo ids (or PWM channels) on this bus, in joint order.
    :param options: protocol-specific settings from the profile's ``protocol_options``.
    :param retries: how often a failed read is repeated before the servo is reported stale.
    """

    #: registry name, e.g. "feetech_sts"
    name: ClassVar[str] = ''
    #: the controller's usual baud rate
    default_baudrate: ClassVar[int] = 1_000_000
    #: raw units of a position: "steps", "us" ...
    units: ClassVar[str] = 'steps'
    #: the goal positions the servo reaches, raw units (None: not declared, not checked).
    #: Profiles are checked against it at load: every joint limit, through the calibration,
    #: must map inside it (robot_touch.core.profile).
    goal_range: ClassVar[tuple[int, int] | None] = None
    #: a servo released (torque off) still reports where it is, so a person can move it by
    #: hand and it can be held again exactly there (free drive). False for PWM boards: a
    #: channel whose pulses are off has no position to read back.
    reads_released: ClassVar[bool] = True

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        self.port = port
        self.ids = list(ids)
        self.options = dict(options or {})
        self.retries = retries
        self.stats = BusStats()

    @abstractmethod
    def ping(self, servo_id: int) -> bool:
        """Return True when the servo (for PWM boards, the controller) answers a ping."""

    @abstractmethod
    def write_goals(self, goals: Mapping[int, int]) -> None:
        """Send goal positions (raw units) for several servos in ONE bus transaction."""

    @abstractmethod
    def read_positions(self) -> dict[int, int | None]:
        """
        Present positions (raw units) of every servo; None where no valid reply came back.

        A backend that knows when each reply arrived keeps it in ``reply_times`` (servo id →
        ``time.monotonic()``), so that each reading is stamped with when it was read; the
        bridge takes the end of the read for the others.
        """

    def set_torque(self, enabled: bool, ids: Sequence[int] | None = None) -> None:
        """
        Enable or release holding torque on the servos ``ids``.

        ``ids`` None means every servo; PWM boards switch their pulses on or off.
        """

    def read_status(self) -> dict[int, ServoStatus]:
        """Voltage, temperature and error flags where the protocol reports them."""
        return {}

    def read_settings(self) -> dict[int, dict[str, int]]:
        """
        Servo id -> setting name -> value, for the servos that answered.

        The calibration registers (``homing_offset``, ``min_position_limit``,
        ``max_position_limit``, ``drive_mode``, see :mod:`robot_touch.core.servo_settings`) and the
        protocol's gains and limits. Empty for controllers that keep no such settings (PWM boards).
        """
        return {}

    def close(self) -> None:
        """Release the backend; the port is closed by whoever opened it."""
