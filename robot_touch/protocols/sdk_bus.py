"""
What the two vendor-SDK backends (Feetech STS, DYNAMIXEL Protocol 2.0) share.

Both drive a vendor packet handler over an already-open pyserial port
(:class:`~robot_touch.protocols.packet_utils.OpenPortMixin`) and add the same things around
it: per-servo retries with stale reporting, statistics, ``PortGone`` when the port itself
fails, torque switching confirmed by read-back, and a sync read that collects every status
packet itself.

The SDKs' ``GroupSyncRead`` is deliberately not used: its ``rxPacket`` stops at the first
servo that does not answer (Feetech's also keeps the previous cycle's bytes for the servos
after it, which ``isAvailable`` still reports as valid, so a stale position would pass as
fresh). The sync read is therefore issued with the packet handler's ``syncReadTx`` and every
status packet collected with its ``rxPacket``, matched to its servo by id.

A subclass supplies the protocol: its port class, id range, result codes, and the four
``_..._tx`` / ``_rx_status`` / ``_parse_status`` hooks below.
"""

from __future__ import annotations

from contextlib import contextmanager
import time
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

from robot_touch.protocols.base import BusError, ServoBus
from robot_touch.protocols.packet_utils import check_ids, OpenPortMixin, port_errors_as_port_gone


def unsigned(value: int) -> int:
    """Return a setting read as it is stored (``settings`` decoder of plain registers)."""
    return value


class SdkBus(ServoBus):
    """
    A servo bus spoken through a vendor SDK packet handler (``self._ph``) over ``self._port``.

    Options (``protocol_options``):
        latency_ms: reply allowance on top of the wire time (default 34 ms like the SDKs).
    """

    #: the SDK PortHandler subclass mixed with OpenPortMixin
    port_class: ClassVar[type[OpenPortMixin]]
    #: highest servo id of the protocol
    max_id: ClassVar[int]
    #: the SDK's result codes
    comm_success: ClassVar[int]
    comm_rx_timeout: ClassVar[int]
    #: the Torque Enable register (1 byte)
    torque_register: ClassVar[Any]
    #: one block of the control table holding every register of ``settings``
    settings_block: ClassVar[Any]
    #: setting name -> (register, decoder of its unsigned little-endian value)
    settings: ClassVar[Mapping[str, tuple[Any, Callable[[int], int]]]]

    #: the SDK's packet handler (set by the subclass)
    _ph: Any

    def __init__(
        self,
        port: Any,
        ids: Sequence[int],
        options: Mapping[str, Any] | None = None,
        retries: int = 2,
    ) -> None:
        super().__init__(port, check_ids(ids, self.max_id), options, retries)
        self._id_set = frozenset(self.ids)
        self._port = self.port_class(port, latency_ms=float(self.options.get('latency_ms', 34.0)))
        #: last status error byte each servo returned, 0 when healthy
        self.last_errors: dict[int, int] = {}
        #: when (time.monotonic()) each valid reply of the last sync read arrived
        self.reply_times: dict[int, float] = {}

    @contextmanager
    def _io(self) -> Iterator[None]:
        """Turn port failures into PortGone and never leave the SDK's port flagged busy."""
        try:
            with port_errors_as_port_gone(self.name):
                yield
        finally:
            self._port.is_using = False

    def ping(self, servo_id: int) -> bool:
        """Return True when ``servo_id`` answers a PING (Feetech: and a model read), retrying."""
        check_ids([servo_id], self.max_id)
        with self._io():
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                _model, result, error = self._ph.ping(self._port, servo_id)
                if result == self.comm_success:
                    self.last_errors[servo_id] = error
                    return True
                self._count_failure(result)
        return False

    def set_torque(self, enabled: bool, ids: Sequence[int] | None = None) -> None:
        """
        SYNC WRITE Torque Enable to the servos ``ids`` (None: every servo).

        Then read it back until all confirm.

        :raises BusError: some servo did not confirm after the retries (its state is unknown).
        """
        value = 1 if enabled else 0
        pending = list(self.ids) if ids is None else check_ids(ids, self.max_id)
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            params = bytearray()
            for servo_id in pending:
                params += bytes((servo_id, value))
            self._sync_write(self.torque_register, params)
            replies = self._sync_read(self.torque_register, pending)
            pending = [i for i in pending if replies.get(i) != bytes((value,))]
            if not pending:
                return
        raise BusError(
            f'{self.name}: torque {"on" if enabled else "off"} not confirmed by servos {pending}'
        )

    def read_settings(self) -> dict[int, dict[str, int]]:
        """One SYNC READ of ``settings_block``, decoded into the named settings."""
        replies = self._sync_read(self.settings_block, self.ids)
        out: dict[int, dict[str, int]] = {}
        for servo_id in self.ids:
            block = replies.get(servo_id)
            if block is None:
                continue
            values = {}
            for name, (register, decode) in self.settings.items():
                start = register.address - self.settings_block.address
                raw = int.from_bytes(block[start:start + register.size], 'little')
                values[name] = decode(raw)
            out[servo_id] = values
        return out

    def close(self) -> None:
        """Detach from the port (the port's owner closes it)."""
        self._port.closePort()

    # -- protocol hooks -------------------------------------------------------------------

    def _sync_write_tx(self, register: Any, params: bytearray) -> int:
        """Send one SYNC WRITE of ``register``, ``params`` = id, data... per servo; SDK result."""
        raise NotImplementedError

    def _sync_read_tx(self, register: Any, ids: list[int]) -> int:
        """Send one SYNC READ request of ``register`` to ``ids``; the SDK result."""
        raise NotImplementedError

    def _rx_status(self) -> tuple[Any, int]:
        """Receive one status packet: (packet, SDK result)."""
        raise NotImplementedError

    def _parse_status(self, packet: Any, size: int) -> tuple[int, bytes, int] | None:
        """
        Return (servo id, data, error byte) of a received status packet with ``size`` data bytes.

        None when it is not such a reply (wrong length, or an error the protocol says voids the
        data).
        """
        raise NotImplementedError

    # -- transactions ---------------------------------------------------------------------

    def _sync_write(self, register: Any, params: bytearray) -> None:
        with self._io():
            result = self._sync_write_tx(register, params)
        self.stats.writes += 1
        if result != self.comm_success:
            raise BusError(f'{self.name}: sync write failed: {self._ph.getTxRxResult(result)}')

    def _sync_read(self, register: Any, ids: Sequence[int]) -> dict[int, bytes]:
        """
        SYNC READ ``register`` from ``ids``; re-ask the servos whose reply was missing or bad.

        :returns: id -> the register's bytes, only for servos that sent a valid, complete reply.
        """
        size = register.size
        got: dict[int, bytes] = {}
        self.reply_times = {}
        pending = list(ids)
        self.stats.reads += 1
        with self._io():
            for attempt in range(self.retries + 1):
                if attempt:
                    self.stats.retries += 1
                result = self._sync_read_tx(register, pending)
                if result != self.comm_success:
                    raise BusError(
                        f'{self.name}: sync read request failed: {self._ph.getTxRxResult(result)}'
                    )
                wanted = set(pending)
                for _ in range(len(pending)):
                    packet, result = self._rx_status()
                    if result == self.comm_success:
                        reply = self._parse_status(packet, size)
                        if reply is not None and reply[0] in wanted:
                            servo_id, data, error = reply
                            wanted.discard(servo_id)
                            got[servo_id] = data
                            self.reply_times[servo_id] = time.monotonic()
                            self.last_errors[servo_id] = error
                        else:
                            self.stats.bad_replies += 1
                        continue
                    if result == self.comm_rx_timeout:
                        self.stats.timeouts += 1
                        break
                    self.stats.bad_replies += 1  # bad checksum/CRC, or truncated by the timeout
                    if self._port.isPacketTimeout():
                        break
                pending = [i for i in pending if i not in got]
                if not pending:
                    break
        return got

    def _count_failure(self, result: int) -> None:
        if result == self.comm_rx_timeout:
            self.stats.timeouts += 1
        else:
            self.stats.bad_replies += 1
