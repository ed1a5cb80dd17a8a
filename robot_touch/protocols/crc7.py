"""
Pololu's CRC-7 (Maestro, jrk, qik serial protocols).

Per the Pololu Maestro Servo Controller User's Guide, section 5.d: polynomial 0x91, computed
LSB first (the order the bits go over the wire), over the whole command packet including
0xAA and the device number; the 7-bit remainder is appended as one byte with its MSB clear.
Guide example: CRC of ``83 01`` is ``17``.

Written here rather than taken from a library because the project's dependencies hold no
CRC package (crcmod would need a custom reflected 7-bit definition anyway); a 256-entry
table keeps it fast in pure Python.
"""

from __future__ import annotations

_POLYNOMIAL = 0x91


def _table_entry(byte: int) -> int:
    crc = byte
    for _ in range(8):
        crc = (crc ^ _POLYNOMIAL) >> 1 if crc & 1 else crc >> 1
    return crc


_TABLE = tuple(_table_entry(b) for b in range(256))


def crc7(data: bytes | bytearray) -> int:
    """Return the 7-bit CRC byte of ``data`` (a complete packet without its CRC byte)."""
    crc = 0
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc & 0x7F
