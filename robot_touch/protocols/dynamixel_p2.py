"""
DYNAMIXEL Protocol 2.0 host backend (X series, e.g. OpenMANIPULATOR-X's XM430) over dynamixel-sdk.

Packets are built, sent and parsed by ``dynamixel_sdk``'s Protocol 2.0 packet handler; this
module adds running over an already-open pyserial port, per-servo retries with stale
reporting, statistics, ``PortGone`` on port failure, and byte stuffing on transmit:
dynamixel-sdk 4.1's ``txPacket`` calls ``addStuffing`` but drops its result whenever stuffing
lengthens the packet (and 3.x has no stuffing at all), so a goal whose bytes contain
``FF FF FD`` would go out unstuffed. Such packets are built here with
:func:`~robot_touch.protocols.packet_utils.dxl_packet` instead (e-Manual "Byte Stuffing").

As in the Feetech backend, ``GroupSyncRead`` is not used: its ``rxPacket`` gives up at the
first servo that does not answer, which also loses the replies of every servo after it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import dynamixel_sdk as dxl
from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols.base import ServoStatus
from robot_touch.protocols.packet_utils import (
    check_goals,
    dxl_needs_stuffing,
    dxl_packet,
    OpenPortMixin,
)
from robot_touch.protocols.sdk_bus import SdkBus, unsigned

_INT32 = (-(1 << 31), (1 << 31) - 1)


def _int32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value


#: what ``read_settings`` reports: control-table registers (names as in LeRobot's table)
_SETTINGS = {
    'model_number': (dxt.MODEL_NUMBER, unsigned),
    'firmware': (dxt.FIRMWARE, unsigned),
    'homing_offset': (dxt.HOMING_OFFSET, _int32),
    'min_position_limit': (dxt.MIN_POSITION_LIMIT, unsigned),
    'max_position_limit': (dxt.MAX_POSITION_LIMIT, unsigned),
    'drive_mode': (dxt.DRIVE_MODE, unsigned),
    'operating_mode': (dxt.OPERATING_MODE, unsigned),
    'velocity_limit': (dxt.VELOCITY_LIMIT, unsigned),
    'current_limit': (dxt.CURRENT_LIMIT, unsigned),
    'temperature_limit': (dxt.TEMPERATURE_LIMIT, unsigned),
    'shutdown': (dxt.SHUTDOWN, unsigned),
    'return_delay': (dxt.RETURN_DELAY_TIME, unsigned),
    'position_p_gain': (dxt.POSITION_P_GAIN, unsigned),
    'position_i_gain': (dxt.POSITION_I_GAIN, unsigned),
    'position_d_gain': (dxt.POSITION_D_GAIN, unsigned),
}


class _DynamixelPort(OpenPortMixin, dxl.PortHandler):
    """dynamixel_sdk PortHandler over our open pyserial port (see OpenPortMixin for why)."""


def _signed(data: bytes) -> int:
    return int.from_bytes(data, 'little', signed=True)


def _field(block: bytes, register: dxt.Register, signed: bool = False) -> int:
    """One little-endian register out of a STATUS_BLOCK read."""
    start = register.address - dxt.STATUS_BLOCK.address
    return int.from_bytes(block[start:start + register.size], 'little', signed=signed)


class DynamixelP2Bus(SdkBus):
    """
    DYNAMIXEL X-series servos speaking Protocol 2.0.

    Options (``protocol_options``):
        latency_ms: reply allowance on top of the wire time (default 34 ms like the SDK).
        current_limit: Current Limit (register 38) used to scale Present Current into
            ``ServoStatus.load`` (default 1193, the XM430-W350's).
    """

    name: ClassVar[str] = 'dynamixel_p2'
    default_baudrate: ClassVar[int] = 1_000_000
    units: ClassVar[str] = 'steps'
    #: Position Control Mode (operating mode 3, the default): Goal Position 0..4095
    #: (ROBOTIS e-Manual, XM430-W350, Goal Position (116))
    goal_range: ClassVar[tuple[int, int] | None] = (0, 4095)

    port_class: ClassVar[type[OpenPortMixin]] = _DynamixelPort
    max_id: ClassVar[int] = dxt.MAX_ID
    comm_success: ClassVar[int] = dxl.COMM_SUCCESS
    comm_rx_timeout: ClassVar[int] = dxl.COMM_RX_TIMEOUT
    torque_register: ClassVar[dxt.Register] = dxt.TORQUE_ENABLE
    settings_block: ClassVar[dxt.Register] = dxt.Register(
        0, dxt.POSITION_P_GAIN.address + 2, False
    )
    settings: ClassVar[Mapping[str, tuple[dxt.Register, Any]]] = _SETTINGS

    #: last status error byte each servo returned (bit 7 = hardware alert)
    last_errors: dict[int, int]

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(port, ids, options, retries)
        self._ph = dxl.PacketHandler(2.0)
        self._current_limit = float(self.options.get('current_limit', dxt.CURRENT_LIMIT.default))
        #: sync writes that needed byte stuffing (sent by our own packet builder)
        self.stuffed_writes = 0

    def write_goals(self, goals: Mapping[int, int]) -> None:
        """One SYNC WRITE of Goal Position (116, 4 bytes, signed) to every given servo."""
        checked = check_goals(goals, self._id_set, *_INT32)
        if not checked:
            return
        params = bytearray()
        for servo_id, goal in checked:
            params.append(servo_id)
            params += goal.to_bytes(4, 'little', signed=True)
        self._sync_write(dxt.GOAL_POSITION, params)

    def read_positions(self) -> dict[int, int | None]:
        """Read Present Position in one SYNC READ; None for a servo without a valid reply."""
        replies = self._sync_read(dxt.PRESENT_POSITION, self.ids)
        return {i: (None if replies.get(i) is None else _signed(replies[i])) for i in self.ids}

    def read_status(self) -> dict[int, ServoStatus]:
        """
        Move, load, voltage and temperature from one SYNC READ (122..146).

        Hardware Error Status (70) is read as well for servos whose replies carry the alert bit.
        """
        replies = self._sync_read(dxt.STATUS_BLOCK, self.ids)
        alerted = [i for i in self.ids if self.last_errors.get(i, 0) & dxt.ERR_ALERT]
        hardware = self._sync_read(dxt.HARDWARE_ERROR_STATUS, alerted) if alerted else {}
        statuses: dict[int, ServoStatus] = {}
        for servo_id in self.ids:
            data = replies.get(servo_id)
            if data is None:
                statuses[servo_id] = ServoStatus()
                continue
            flags = dxt.hardware_error_flags(hardware[servo_id][0]) if servo_id in hardware else []
            if servo_id in alerted and not flags:
                flags = ['hardware_alert']  # alert bit set, but the error register was not read
            statuses[servo_id] = ServoStatus(
                voltage=_field(data, dxt.PRESENT_INPUT_VOLTAGE) / 10.0,
                temperature=float(_field(data, dxt.PRESENT_TEMPERATURE)),
                load=_field(data, dxt.PRESENT_CURRENT, signed=True) / self._current_limit,
                moving=bool(_field(data, dxt.MOVING)),
                error_flags=flags,
            )
        return statuses

    # -- protocol hooks (see SdkBus) --------------------------------------------------------

    def _sync_write_tx(self, register: dxt.Register, params: bytearray) -> int:
        head = bytes((dxt.INST_SYNC_WRITE,)) + register.address.to_bytes(2, 'little')
        head += register.size.to_bytes(2, 'little')
        if dxl_needs_stuffing(head + params):
            self.stuffed_writes += 1
            packet = dxl_packet(dxt.BROADCAST_ID, dxt.INST_SYNC_WRITE, head[1:] + params)
            written = self._port.writePort(packet)
            return dxl.COMM_SUCCESS if written == len(packet) else dxl.COMM_TX_FAIL
        return self._ph.syncWriteTxOnly(
            self._port, register.address, register.size, list(params), len(params)
        )

    def _sync_read_tx(self, register: dxt.Register, ids: list[int]) -> int:
        return self._ph.syncReadTx(
            self._port, register.address, register.size, ids, len(ids), False
        )

    def _rx_status(self) -> tuple[Any, int]:
        return self._ph.rxPacket(self._port, False)

    def _parse_status(self, packet: Any, size: int) -> tuple[int, bytes, int] | None:
        servo_id = packet[4]
        error = packet[8]
        # (LEN counts the unstuffed packet after the SDK's removeStuffing; it is
        # INST ERR data... CRC_L CRC_H)
        if packet[5] | packet[6] << 8 != size + 4 or error & 0x7F:
            return None
        return servo_id, bytes(packet[9:9 + size]), error
