"""
Protocol 2.0's group instructions on the emulated DYNAMIXEL bus.

SYNC/BULK READ and WRITE, and FAST SYNC/BULK READ, whose single status packet every listed servo
builds in turn.

A mixin of :class:`robot_touch.virtual_arm.dynamixel_device.DynamixelP2Device`, which
supplies the per-servo ``_read``/``_write``/``_status`` and the id lookup. Sources: ROBOTIS
e-Manual "DYNAMIXEL Protocol 2.0" (parameter layouts, one entry per servo, broadcast id);
the fast reads' packet (per servo: error, id, data, the CRC of the packet so far; the last
servo's CRC closes it) as dynamixel-sdk 4.1's GroupSyncRead/GroupBulkRead parse it.
"""

from __future__ import annotations

from typing import Any

from robot_touch.protocols import dynamixel_tables as dxt
from robot_touch.protocols.packet_utils import dxl_crc16


class GroupInstructions:
    """
    SYNC/BULK/FAST reads and writes.

    For a device with ``_listening``, ``_read``, ``_write``, ``_status``, ``collide`` and
    ``_malformed``.
    """

    _listening: Any
    _read: Any
    _write: Any
    _status: Any
    collide: Any
    _malformed: Any

    def _group(self, broadcast: bool, instruction: int, params: bytes) -> list[bytes] | None:
        """SYNC/BULK/FAST reads and writes; None for any other instruction."""
        if instruction in (dxt.INST_SYNC_READ, dxt.INST_FAST_SYNC_READ, dxt.INST_SYNC_WRITE):
            if not broadcast or len(params) < 4:
                return self._malformed()
            address, size = params[0] | params[1] << 8, params[2] | params[3] << 8
            if instruction == dxt.INST_SYNC_WRITE:
                if size == 0 or (len(params) - 4) % (size + 1):
                    return self._malformed()
                for at in range(4, len(params), size + 1):
                    for unit in self._listening(params[at]):
                        self._write(unit, address, params[at + 1:at + 1 + size])
                return []
            reads = [(target, address, size) for target in params[4:]]
        elif instruction in (dxt.INST_BULK_READ, dxt.INST_FAST_BULK_READ):
            if not broadcast or not params or len(params) % 5:
                return self._malformed()
            reads = [
                (
                    params[at],
                    params[at + 1] | params[at + 2] << 8,
                    params[at + 3] | params[at + 4] << 8,
                )
                for at in range(0, len(params), 5)
            ]
            if len({target for target, _, _ in reads}) != len(reads):
                return self._malformed()  # e-Manual: one entry per servo
        elif instruction == dxt.INST_BULK_WRITE:
            return self._bulk_write(broadcast, params)
        else:
            return None
        fast = instruction in (dxt.INST_FAST_SYNC_READ, dxt.INST_FAST_BULK_READ)
        return self._fast_read(reads) if fast else self._group_read(reads)

    def _group_read(self, reads: list[tuple[int, int, int]]) -> list[bytes]:
        replies = []
        for target, address, size in reads:
            answers = []
            for unit in self._listening(target):
                if unit.table[dxt.STATUS_RETURN_LEVEL.address] >= 1:
                    error, data = self._read(unit, address, size)
                    answers.append(self._status(unit, target, error, data))
            if answers:
                replies.append(self.collide(answers))
        return replies

    def _fast_read(self, reads: list[tuple[int, int, int]]) -> list[bytes]:
        """
        One status packet built by every listed servo in turn.

        Error, id, data and the CRC of the packet so far each; the last servo's CRC closes the
        packet.
        """
        length = 1 + sum(size + 4 for _, _, size in reads)
        packet = bytearray(
            b'\xff\xff\xfd\x00'
            + bytes((dxt.BROADCAST_ID, length & 0xFF, length >> 8, dxt.INST_STATUS))
        )
        for target, address, size in reads:
            units = self._listening(target)
            if len(units) != 1 or units[0].table[dxt.STATUS_RETURN_LEVEL.address] < 1:
                break  # the chain breaks: the host gets a short packet
            error, data = self._read(units[0], address, size)
            if units[0].table[dxt.HARDWARE_ERROR_STATUS.address]:
                error |= dxt.ERR_ALERT
            packet += bytes((error, target)) + data.ljust(size, b'\x00')
            crc = dxl_crc16(packet)
            packet += bytes((crc & 0xFF, crc >> 8))
        return [bytes(packet)] if len(packet) > 8 else []

    def _bulk_write(self, broadcast: bool, params: bytes) -> list[bytes]:
        if not broadcast:
            return self._malformed()
        entries, at = [], 0
        while at < len(params):
            if at + 5 > len(params):
                return self._malformed()
            size = params[at + 3] | params[at + 4] << 8
            end = at + 5 + size
            if size == 0 or end > len(params):
                return self._malformed()
            entries.append(
                (params[at], params[at + 1] | params[at + 2] << 8, params[at + 5:end])
            )
            at = end
        for target, address, data in entries:
            for unit in self._listening(target):
                self._write(unit, address, data)
        return []
