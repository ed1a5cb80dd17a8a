"""Feetech STS (SMS/STS series, e.g. STS3215 on the SO-101) host backend over feetech-servo-sdk.

Packets are built, sent and parsed by ``scservo_sdk`` (feetech-servo-sdk 1.0.0); this module
adds what the SDK leaves out: running over an already-open pyserial port, per-servo retries
with stale reporting, statistics, and ``PortGone`` when the port itself fails.

The SDK's ``GroupSyncRead`` is deliberately not used: its ``rxPacket`` stops at the first
servo that does not answer and keeps the previous cycle's bytes for the servos after it,
which ``isAvailable`` still reports as valid, so a stale position would pass as fresh.
The sync read is therefore issued with the packet handler's ``syncReadTx`` and every status
packet collected with its ``rxPacket``, matched to its servo by id.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import scservo_sdk as scs

from robot_touch.protocols import feetech_tables as ft
from robot_touch.protocols.base import BusError, PortGone, ServoBus, ServoStatus
from robot_touch.protocols.packet_utils import (
    PORT_ERRORS,
    OpenPortMixin,
    check_goals,
    check_ids,
    from_sign_magnitude,
    to_sign_magnitude,
)

_GOAL_LIMIT = (1 << ft.GOAL_SIGN_BIT) - 1


def _field(block: bytes, register: ft.Register) -> int:
    """One little-endian register out of a STATUS_BLOCK read."""
    start = register.address - ft.STATUS_BLOCK.address
    return int.from_bytes(block[start : start + register.size], "little")


class _FeetechPort(OpenPortMixin, scs.PortHandler):
    """scservo_sdk PortHandler over our open pyserial port (see OpenPortMixin for why)."""


class FeetechSTSBus(ServoBus):
    """Feetech SMS/STS bus servos (FT-SCS protocol, little-endian), e.g. STS3215.

    Options (``protocol_options``):
        latency_ms: reply allowance on top of the wire time (default 34 ms like the SDK;
            lower it when the USB adapter's latency timer is 1 ms).
    """

    name: ClassVar[str] = "feetech_sts"
    default_baudrate: ClassVar[int] = 1_000_000
    units: ClassVar[str] = "steps"

    def __init__(
        self, port: Any, ids: Sequence[int], options: Mapping[str, Any] | None = None, retries: int = 2
    ) -> None:
        super().__init__(port, check_ids(ids, ft.MAX_ID), options, retries)
        self._id_set = frozenset(self.ids)
        self._port = _FeetechPort(port, latency_ms=float(self.options.get("latency_ms", 34.0)))
        # protocol_end 0 = little-endian STS/SMS; the SDK stores it module-wide, and this
        # module never uses the SDK's endianness-dependent helpers anyway.
        self._ph = scs.PacketHandler(0)
        #: last error byte each servo returned (FT-SCS status packet), 0 when healthy
        self.last_errors: dict[int, int] = {}

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
        """True when ``servo_id`` answers a PING (and its model-number read), with retries."""
        check_ids([servo_id], ft.MAX_ID)
        with self._io():
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                _model, result, error = self._ph.ping(self._port, servo_id)
                if result == scs.COMM_SUCCESS:
                    self.last_errors[servo_id] = error
                    return True
                self._count_failure(result)
        return False

    def write_goals(self, goals: Mapping[int, int]) -> None:
        """One SYNC WRITE of Goal Position (address 42, sign-magnitude) to every given servo."""
        checked = check_goals(goals, self._id_set, -_GOAL_LIMIT, _GOAL_LIMIT)
        if not checked:
            return
        params: list[int] = []
        for servo_id, goal in checked:
            raw = to_sign_magnitude(goal, ft.GOAL_SIGN_BIT)
            params += (servo_id, raw & 0xFF, raw >> 8)
        self._sync_write(ft.GOAL_POSITION, params)

    def read_positions(self) -> dict[int, int | None]:
        """One SYNC READ of Present Position; None for a servo with no valid reply after retries."""
        replies = self._sync_read(ft.PRESENT_POSITION, self.ids)
        positions: dict[int, int | None] = {}
        for servo_id in self.ids:
            data = replies.get(servo_id)
            positions[servo_id] = (
                None if data is None else from_sign_magnitude(data[0] | data[1] << 8, ft.POSITION_SIGN_BIT)
            )
        return positions

    def set_torque(self, enabled: bool) -> None:
        """SYNC WRITE Torque Enable (40) to every servo, then read it back until all confirm.

        Raises:
            BusError: some servo did not confirm after the retries (its state is unknown).
        """
        value = 1 if enabled else 0
        pending = list(self.ids)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            params: list[int] = []
            for servo_id in pending:
                params += (servo_id, value)
            self._sync_write(ft.TORQUE_ENABLE, params)
            replies = self._sync_read(ft.TORQUE_ENABLE, pending)
            pending = [i for i in pending if replies.get(i) != bytes((value,))]
            if not pending:
                return
        raise BusError(f"{self.name}: torque {'on' if enabled else 'off'} not confirmed by servos {pending}")

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

    def close(self) -> None:
        """Detach from the port (the port's owner closes it)."""
        self._port.closePort()

    # -- transactions ---------------------------------------------------------------------

    def _sync_write(self, register: ft.Register, params: list[int]) -> None:
        with self._io():
            result = self._ph.syncWriteTxOnly(self._port, register.address, register.size, params, len(params))
        self.stats.writes += 1
        if result != scs.COMM_SUCCESS:
            raise BusError(f"{self.name}: sync write failed: {self._ph.getTxRxResult(result)}")

    def _sync_read(self, register: ft.Register, ids: Sequence[int]) -> dict[int, bytes]:
        """SYNC READ ``register`` from ``ids``; re-ask the servos whose reply was missing or bad.

        Returns:
            id -> the register's bytes, only for servos that sent a valid, complete reply.
        """
        size = register.size
        reply_length = size + 6  # FF FF ID LEN ERR data... CHECKSUM
        got: dict[int, bytes] = {}
        pending = list(ids)
        self.stats.reads += 1
        with self._io():
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                result = self._ph.syncReadTx(self._port, register.address, size, pending, len(pending))
                if result != scs.COMM_SUCCESS:
                    raise BusError(f"{self.name}: sync read request failed: {self._ph.getTxRxResult(result)}")
                wanted = set(pending)
                for _ in range(len(pending)):
                    packet, result = self._ph.rxPacket(self._port)
                    if result == scs.COMM_SUCCESS:
                        servo_id = packet[2]
                        if servo_id in wanted and len(packet) == reply_length:
                            wanted.discard(servo_id)
                            got[servo_id] = bytes(packet[5 : 5 + size])
                            self.last_errors[servo_id] = packet[4]
                        else:
                            self.stats.bad_replies += 1
                        continue
                    if result == scs.COMM_RX_TIMEOUT:
                        self.stats.timeouts += 1
                        break
                    self.stats.bad_replies += 1  # bad checksum, or truncated by the timeout
                    if self._port.isPacketTimeout():
                        break
                pending = [i for i in pending if i not in got]
                if not pending:
                    break
        return got

    def _count_failure(self, result: int) -> None:
        if result == scs.COMM_RX_TIMEOUT:
            self.stats.timeouts += 1
        else:
            self.stats.bad_replies += 1
