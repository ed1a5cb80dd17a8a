"""
Feetech STS (SMS/STS series, e.g. STS3215 on the SO-101) host backend over feetech-servo-sdk.

Packets are built, sent and parsed by ``scservo_sdk`` (feetech-servo-sdk 1.0.0); this module
adds what the SDK leaves out: running over an already-open pyserial port, per-servo retries
with stale reporting, statistics, and ``PortGone`` when the port itself fails (all shared
with the Dynamixel backend in :mod:`robot_touch.protocols.sdk_bus`).

The SDK's ``GroupSyncRead`` is deliberately not used: its ``rxPacket`` stops at the first
servo that does not answer and keeps the previous cycle's bytes for the servos after it,
which ``isAvailable`` still reports as valid, so a stale position would pass as fresh.
The sync read is therefore issued with the packet handler's ``syncReadTx`` and every status
packet collected with its ``rxPacket``, matched to its servo by id.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

from robot_touch.protocols import feetech_tables as ft
from robot_touch.protocols.base import ServoStatus
from robot_touch.protocols.packet_utils import (
    check_goals,
    from_sign_magnitude,
    OpenPortMixin,
    to_sign_magnitude,
)
from robot_touch.protocols.sdk_bus import SdkBus, unsigned
import scservo_sdk as scs

_GOAL_LIMIT = (1 << ft.GOAL_SIGN_BIT) - 1


def _homing(value: int) -> int:
    return from_sign_magnitude(value, ft.HOMING_SIGN_BIT)


def _direction(phase: int) -> int:
    """Phase bit 7 (position feedback reversed) as a drive mode 0/1."""
    return int(bool(phase & ft.PHASE_FEEDBACK_REVERSED))


#: what ``read_settings`` reports: memory-table registers (names as in LeRobot's table)
_SETTINGS = {
    'model_number': (ft.MODEL_NUMBER, unsigned),
    'firmware_major': (ft.FIRMWARE_MAJOR, unsigned),
    'firmware_minor': (ft.FIRMWARE_MINOR, unsigned),
    'homing_offset': (ft.HOMING_OFFSET, _homing),
    'min_position_limit': (ft.MIN_POSITION_LIMIT, unsigned),
    'max_position_limit': (ft.MAX_POSITION_LIMIT, unsigned),
    'drive_mode': (ft.PHASE, _direction),
    'phase': (ft.PHASE, unsigned),
    'operating_mode': (ft.OPERATING_MODE, unsigned),
    'p_coefficient': (ft.P_COEFFICIENT, unsigned),
    'd_coefficient': (ft.D_COEFFICIENT, unsigned),
    'i_coefficient': (ft.I_COEFFICIENT, unsigned),
    'max_torque_limit': (ft.MAX_TORQUE_LIMIT, unsigned),
    'torque_limit': (ft.TORQUE_LIMIT, unsigned),
    'protection_current': (ft.PROTECTION_CURRENT, unsigned),
    'overload_torque': (ft.OVERLOAD_TORQUE, unsigned),
    'protective_torque': (ft.PROTECTIVE_TORQUE, unsigned),
    'max_temperature_limit': (ft.MAX_TEMPERATURE_LIMIT, unsigned),
    'return_delay': (ft.RETURN_DELAY, unsigned),
    'lock': (ft.LOCK, unsigned),
}


def _field(block: bytes, register: ft.Register) -> int:
    """One little-endian register out of a STATUS_BLOCK read."""
    start = register.address - ft.STATUS_BLOCK.address
    return int.from_bytes(block[start:start + register.size], 'little')


class _FeetechPort(OpenPortMixin, scs.PortHandler):
    """scservo_sdk PortHandler over our open pyserial port (see OpenPortMixin for why)."""


class FeetechSTSBus(SdkBus):
    """
    Feetech SMS/STS bus servos (FT-SCS protocol, little-endian), e.g. STS3215.

    Options (``protocol_options``):
        latency_ms: reply allowance on top of the wire time (default 34 ms like the SDK;
            lower it when the USB adapter's latency timer is 1 ms).
    """

    name: ClassVar[str] = 'feetech_sts'
    default_baudrate: ClassVar[int] = 1_000_000
    units: ClassVar[str] = 'steps'
    #: position mode of the STS3215: one turn of the 12-bit encoder (Feetech STS memory table)
    goal_range: ClassVar[tuple[int, int] | None] = (0, 4095)

    port_class: ClassVar[type[OpenPortMixin]] = _FeetechPort
    max_id: ClassVar[int] = ft.MAX_ID
    comm_success: ClassVar[int] = scs.COMM_SUCCESS
    comm_rx_timeout: ClassVar[int] = scs.COMM_RX_TIMEOUT
    torque_register: ClassVar[ft.Register] = ft.TORQUE_ENABLE
    settings_block: ClassVar[ft.Register] = ft.Register(0, ft.LOCK.address + 1, False)
    settings: ClassVar[Mapping[str, tuple[ft.Register, Any]]] = _SETTINGS

    #: last error byte each servo returned (FT-SCS status packet), 0 when healthy
    last_errors: dict[int, int]

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(port, ids, options, retries)
        # protocol_end 0 = little-endian STS/SMS; the SDK stores it module-wide, and this
        # module never uses the SDK's endianness-dependent helpers anyway.
        self._ph = scs.PacketHandler(0)

    def write_goals(self, goals: Mapping[int, int]) -> None:
        """One SYNC WRITE of Goal Position (address 42, sign-magnitude) to every given servo."""
        checked = check_goals(goals, self._id_set, -_GOAL_LIMIT, _GOAL_LIMIT)
        if not checked:
            return
        params = bytearray()
        for servo_id, goal in checked:
            raw = to_sign_magnitude(goal, ft.GOAL_SIGN_BIT)
            params += bytes((servo_id, raw & 0xFF, raw >> 8))
        self._sync_write(ft.GOAL_POSITION, params)

    def read_positions(self) -> dict[int, int | None]:
        """Read Present Position in one SYNC READ; None for a servo without a valid reply."""
        replies = self._sync_read(ft.PRESENT_POSITION, self.ids)
        positions: dict[int, int | None] = {}
        for servo_id in self.ids:
            data = replies.get(servo_id)
            positions[servo_id] = (
                None
                if data is None
                else from_sign_magnitude(data[0] | data[1] << 8, ft.POSITION_SIGN_BIT)
            )
        return positions

    def read_status(self) -> dict[int, ServoStatus]:
        """Voltage, temperature, load, moving and error flags from one SYNC READ (56..66)."""
        replies = self._sync_read(ft.STATUS_BLOCK, self.ids)
        statuses: dict[int, ServoStatus] = {}
        for servo_id in self.ids:
            data = replies.get(servo_id)
            if data is None:
                statuses[servo_id] = ServoStatus()
                continue
            errors = _field(data, ft.SERVO_STATUS) | self.last_errors.get(servo_id, 0)
            statuses[servo_id] = ServoStatus(
                voltage=_field(data, ft.PRESENT_VOLTAGE) / 10.0,
                temperature=float(_field(data, ft.PRESENT_TEMPERATURE)),
                load=from_sign_magnitude(_field(data, ft.PRESENT_LOAD), ft.LOAD_SIGN_BIT) / 1000.0,
                moving=bool(_field(data, ft.MOVING)),
                error_flags=ft.error_flags(errors),
            )
        return statuses

    # -- protocol hooks (see SdkBus) --------------------------------------------------------

    def _sync_write_tx(self, register: ft.Register, params: bytearray) -> int:
        return self._ph.syncWriteTxOnly(
            self._port, register.address, register.size, list(params), len(params)
        )

    def _sync_read_tx(self, register: ft.Register, ids: list[int]) -> int:
        return self._ph.syncReadTx(self._port, register.address, register.size, ids, len(ids))

    def _rx_status(self) -> tuple[Any, int]:
        return self._ph.rxPacket(self._port)

    def _parse_status(self, packet: Any, size: int) -> tuple[int, bytes, int] | None:
        servo_id = packet[2]
        if len(packet) != size + 6:  # FF FF ID LEN ERR data... CHECKSUM
            return None
        return servo_id, bytes(packet[5:5 + size]), packet[4]
