"""DYNAMIXEL Protocol 2.0 constants and the X-series (XM430-W350) control table.

Sources (facts only, no text copied):
  * ROBOTIS e-Manual "DYNAMIXEL Protocol 2.0" (emanual.robotis.com/docs/en/dxl/protocol2/):
    packet layout ``FF FF FD 00 ID LEN_L LEN_H INST PARAMS CRC_L CRC_H``, LEN = params + 3,
    CRC-16 (polynomial 0x8005) over header..params, byte stuffing (``FF FF FD`` -> ``FF FF FD FD``,
    LEN counts the stuffed bytes, CRC over the stuffed packet), status instruction 0x55, the
    error byte (bit 7 alert, bits 0..6 error number), broadcast id 0xFE.
  * ROBOTIS e-Manual "XM430-W350" control table: addresses, sizes, access, defaults and the
    Hardware Error Status bits below.
"""
from __future__ import annotations

from typing import NamedTuple

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC  # 0..252 address one device
#: Largest packet the emulator and dynamixel-sdk accept (dynamixel_sdk RXPACKET_MAX_LEN).
MAX_PACKET = 1024

# Instructions (e-Manual Protocol 2.0)
INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_FACTORY_RESET = 0x06
INST_REBOOT = 0x08
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83

# Status packet error byte: bit 7 = hardware alert, bits 0..6 = error number.
ERR_ALERT = 0x80
ERR_RESULT_FAIL = 0x01
ERR_INSTRUCTION = 0x02
ERR_CRC = 0x03
ERR_DATA_RANGE = 0x04
ERR_DATA_LENGTH = 0x05
ERR_DATA_LIMIT = 0x06
ERR_ACCESS = 0x07

#: Model number of the XM430-W350 (e-Manual), reported by PING.
XM430_W350_MODEL_NUMBER = 1020
FIRMWARE_VERSION = 45


class Register(NamedTuple):
    """One control-table entry: address, size in bytes, host may write it, default value."""

    address: int
    size: int
    writable: bool = True
    default: int = 0


# EEPROM area (writable only while torque is off)
MODEL_NUMBER = Register(0, 2, False, XM430_W350_MODEL_NUMBER)
MODEL_INFORMATION = Register(2, 4, False)
FIRMWARE = Register(6, 1, False, FIRMWARE_VERSION)
ID = Register(7, 1, True, 1)
BAUD_RATE = Register(8, 1, True, 1)
RETURN_DELAY_TIME = Register(9, 1, True, 250)
DRIVE_MODE = Register(10, 1)
OPERATING_MODE = Register(11, 1, True, 3)  # 3 = position control, 4 = extended position
HOMING_OFFSET = Register(20, 4)
MOVING_THRESHOLD = Register(24, 4, True, 10)
TEMPERATURE_LIMIT = Register(31, 1, True, 80)  # degrees Celsius
MAX_VOLTAGE_LIMIT = Register(32, 2, True, 160)  # 0.1 V
MIN_VOLTAGE_LIMIT = Register(34, 2, True, 95)  # 0.1 V
PWM_LIMIT = Register(36, 2, True, 885)
CURRENT_LIMIT = Register(38, 2, True, 1193)  # 2.69 mA units
VELOCITY_LIMIT = Register(44, 4, True, 200)
MAX_POSITION_LIMIT = Register(48, 4, True, 4095)
MIN_POSITION_LIMIT = Register(52, 4, True, 0)
SHUTDOWN = Register(63, 1, True, 52)  # overheat | electrical shock | overload
EEPROM_END = 64
# RAM area
TORQUE_ENABLE = Register(64, 1)
LED = Register(65, 1)
STATUS_RETURN_LEVEL = Register(68, 1, True, 2)  # 0: PING only, 1: + READ, 2: all
REGISTERED_INSTRUCTION = Register(69, 1, False)
HARDWARE_ERROR_STATUS = Register(70, 1, False)
VELOCITY_I_GAIN = Register(76, 2, True, 1920)
VELOCITY_P_GAIN = Register(78, 2, True, 100)
POSITION_D_GAIN = Register(80, 2)
POSITION_I_GAIN = Register(82, 2)
POSITION_P_GAIN = Register(84, 2, True, 800)
FEEDFORWARD_2ND_GAIN = Register(88, 2)
FEEDFORWARD_1ST_GAIN = Register(90, 2)
BUS_WATCHDOG = Register(98, 1)
GOAL_PWM = Register(100, 2)
GOAL_CURRENT = Register(102, 2)
GOAL_VELOCITY = Register(104, 4)
PROFILE_ACCELERATION = Register(108, 4)
PROFILE_VELOCITY = Register(112, 4)
GOAL_POSITION = Register(116, 4)  # signed 32 bit
REALTIME_TICK = Register(120, 2, False)
MOVING = Register(122, 1, False)
MOVING_STATUS = Register(123, 1, False)
PRESENT_PWM = Register(124, 2, False)
PRESENT_CURRENT = Register(126, 2, False)  # signed 16 bit, 2.69 mA units
PRESENT_VELOCITY = Register(128, 4, False)
PRESENT_POSITION = Register(132, 4, False)  # signed 32 bit
VELOCITY_TRAJECTORY = Register(136, 4, False)
POSITION_TRAJECTORY = Register(140, 4, False)
PRESENT_INPUT_VOLTAGE = Register(144, 2, False)  # 0.1 V
PRESENT_TEMPERATURE = Register(146, 1, False)  # degrees Celsius
TABLE_SIZE = 147

REGISTERS: tuple[Register, ...] = tuple(v for v in dict(globals()).values() if isinstance(v, Register))

#: One sync read from Moving through Present Temperature covers what read_status needs.
STATUS_BLOCK = Register(MOVING.address, PRESENT_TEMPERATURE.address + 1 - MOVING.address, False)

# Hardware Error Status (address 70) bits (e-Manual XM430-W350); bit 1 is unused.
HARDWARE_ERROR_BITS: dict[int, str] = {
    0x01: "voltage",
    0x04: "overheat",
    0x08: "encoder",
    0x10: "electrical_shock",
    0x20: "overload",
}


def hardware_error_flags(status: int) -> list[str]:
    """Names of the bits set in a Hardware Error Status byte."""
    return [name for bit, name in HARDWARE_ERROR_BITS.items() if status & bit]
