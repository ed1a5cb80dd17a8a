"""DYNAMIXEL Protocol 2.0 host backend (X series, e.g. OpenMANIPULATOR-X's XM430) over dynamixel-sdk.

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

from contextlib import contextmanager
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import dynamixel_sdk as dxl

from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols.base import BusError, PortGone, ServoBus, ServoStatus
from robot_touch.protocols.packet_utils import (
    PORT_ERRORS,
    OpenPortMixin,
    check_goals,
    check_ids,
    dxl_needs_stuffing,
    dxl_packet,
)

_INT32 = (-(1 << 31), (1 << 31) - 1)


class _DynamixelPort(OpenPortMixin, dxl.PortHandler):
    """dynamixel_sdk PortHandler over our open pyserial port (see OpenPortMixin for why)."""


def _signed(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)


def _field(block: bytes, register: dxt.Register, signed: bool = False) -> int:
    """One little-endian register out of a STATUS_BLOCK read."""
    start = register.address - dxt.STATUS_BLOCK.address
    return int.from_bytes(block[start : start + register.size], "little", signed=signed)


class DynamixelP2Bus(ServoBus):
    """DYNAMIXEL X-series servos speaking Protocol 2.0.

    Options (``protocol_options``):
        latency_ms: reply allowance on top of the wire time (default 34 ms like the SDK).
        current_limit: Current Limit (register 38) used to scale Present Current into
            ``ServoStatus.load`` (default 1193, the XM430-W350's).
    """

    name: ClassVar[str] = "dynamixel_p2"
    default_baudrate: ClassVar[int] = 1_000_000
    units: ClassVar[str] = "steps"

    def __init__(
        self, port: Any, ids: Sequence[int], options: Mapping[str, Any] | None = None, retries: int = 2
    ) -> None:
        super().__init__(port, check_ids(ids, dxt.MAX_ID), options, retries)
        self._id_set = frozenset(self.ids)
        self._port = _DynamixelPort(port, latency_ms=float(self.options.get("latency_ms", 34.0)))
        self._ph = dxl.PacketHandler(2.0)
        self._current_limit = float(self.options.get("current_limit", dxt.CURRENT_LIMIT.default))
        #: last status error byte each servo returned (bit 7 = hardware alert)
        self.last_errors: dict[int, int] = {}
        #: sync writes that needed byte stuffing (sent by our own packet builder)
        self.stuffed_writes = 0

    @contextmanager
    def _io(self) -> Iterator[None]:
        """Turn port failures into PortGone and never leave the SDK's port flagged busy."""
        try:
            yield
        except PORT_ERRORS as exc:
            raise PortGone(f"{self.name}: serial port failed: {exc}") from exc
        finally:
            self._port.is_using = False

    def ping(self, servo_id: int) -> bool:
        """True when ``servo_id`` answers a PING, with retries."""
        check_ids([servo_id], dxt.MAX_ID)
        with self._io():
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                _model, result, error = self._ph.ping(self._port, servo_id)
                if result == dxl.COMM_SUCCESS:
                    self.last_errors[servo_id] = error
                    return True
                if result == dxl.COMM_RX_TIMEOUT:
                    self.stats.timeouts += 1
                else:
                    self.stats.bad_replies += 1
        return False

    def write_goals(self, goals: Mapping[int, int]) -> None:
        """One SYNC WRITE of Goal Position (116, 4 bytes, signed) to every given servo."""
        checked = check_goals(goals, self._id_set, *_INT32)
        if not checked:
            return
        params = bytearray()
        for servo_id, goal in checked:
            params.append(servo_id)
            params += goal.to_bytes(4, "little", signed=True)
        self._sync_write(dxt.GOAL_POSITION, params)

    def read_positions(self) -> dict[int, int | None]:
        """One SYNC READ of Present Position; None for a servo with no valid reply after retries."""
        replies = self._sync_read(dxt.PRESENT_POSITION, self.ids)
        return {i: (None if replies.get(i) is None else _signed(replies[i])) for i in self.ids}

    def set_torque(self, enabled: bool) -> None:
        """SYNC WRITE Torque Enable (64) to every servo, then read it back until all confirm.

        Raises:
            BusError: some servo did not confirm after the retries (its state is unknown).
        """
        value = 1 if enabled else 0
        pending = list(self.ids)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            params = bytearray()
            for servo_id in pending:
                params += bytes((servo_id, value))
            self._sync_write(dxt.TORQUE_ENABLE, params)
            replies = self._sync_read(dxt.TORQUE_ENABLE, pending)
            pending = [i for i in pending if replies.get(i) != bytes((value,))]
            if not pending:
                return
        raise BusError(f"{self.name}: torque {'on' if enabled else 'off'} not confirmed by servos {pending}")

    def read_status(self) -> dict[int, ServoStatus]:
        """Moving, load, voltage and temperature from one SYNC READ (122..146); Hardware Error
        Status (70) is read as well for servos whose replies carry the alert bit."""
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
                flags = ["hardware_alert"]  # alert bit set, but the error register was not read
            statuses[servo_id] = ServoStatus(
                voltage=_field(data, dxt.PRESENT_INPUT_VOLTAGE) / 10.0,
                temperature=float(_field(data, dxt.PRESENT_TEMPERATURE)),
                load=_field(data, dxt.PRESENT_CURRENT, signed=True) / self._current_limit,
                moving=bool(_field(data, dxt.MOVING)),
                error_flags=flags,
            )
        return statuses

    def close(self) -> None:
        """Detach from the port (the port's owner closes it)."""
        self._port.closePort()

    # -- transactions ---------------------------------------------------------------------

    def _sync_write(self, register: dxt.Register, params: bytearray) -> None:
        with self._io():
            head = bytes((dxt.INST_SYNC_WRITE,)) + register.address.to_bytes(2, "little")
            head += register.size.to_bytes(2, "little")
            if dxl_needs_stuffing(head + params):
                self.stuffed_writes += 1
                packet = dxl_packet(dxt.BROADCAST_ID, dxt.INST_SYNC_WRITE, head[1:] + params)
                written = self._port.writePort(packet)
                result = dxl.COMM_SUCCESS if written == len(packet) else dxl.COMM_TX_FAIL
            else:
                result = self._ph.syncWriteTxOnly(
                    self._port, register.address, register.size, list(params), len(params)
                )
        self.stats.writes += 1
        if result != dxl.COMM_SUCCESS:
            raise BusError(f"{self.name}: sync write failed: {self._ph.getTxRxResult(result)}")

    def _sync_read(self, register: dxt.Register, ids: Sequence[int]) -> dict[int, bytes]:
        """SYNC READ ``register`` from ``ids``; re-ask the servos whose reply was missing or bad.

        Returns:
            id -> the register's bytes, only for servos that sent a valid, complete reply.
        """
        size = register.size
        reply_length = size + 4  # LEN field: INST ERR data... CRC_L CRC_H
        got: dict[int, bytes] = {}
        pending = list(ids)
        self.stats.reads += 1
        with self._io():
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                result = self._ph.syncReadTx(self._port, register.address, size, pending, len(pending), False)
                if result != dxl.COMM_SUCCESS:
                    raise BusError(f"{self.name}: sync read request failed: {self._ph.getTxRxResult(result)}")
                wanted = set(pending)
                for _ in range(len(pending)):
                    packet, result = self._ph.rxPacket(self._port, False)
                    if result == dxl.COMM_SUCCESS:
                        servo_id = packet[4]
                        error = packet[8]
                        # (LEN counts the unstuffed packet after the SDK's removeStuffing)
                        if servo_id in wanted and packet[5] | packet[6] << 8 == reply_length and not error & 0x7F:
                            wanted.discard(servo_id)
                            got[servo_id] = bytes(packet[9 : 9 + size])
                            self.last_errors[servo_id] = error
                        else:
                            self.stats.bad_replies += 1
                        continue
                    if result == dxl.COMM_RX_TIMEOUT:
                        self.stats.timeouts += 1
                        break
                    self.stats.bad_replies += 1  # bad CRC, or truncated by the timeout
                    if self._port.isPacketTimeout():
                        break
                pending = [i for i in pending if i not in got]
                if not pending:
                    break
        return got
