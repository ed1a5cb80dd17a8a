"""
DYNAMIXEL Protocol 2.0 constants and the X-series (XM430-W350) control table.

Sources (facts only, no text copied):
  * ROBOTIS e-Manual "DYNAMIXEL Protocol 2.0" (emanual.robotis.com/docs/en/dxl/protocol2/):
    packet layout ``FF FF FD 00 ID LEN_L LEN_H INST PARAMS CRC_L CRC_H``, LEN = params + 3,
    CRC-16 (polynomial 0x8005) over header..params, byte stuffing (``FF FF FD`` -> ``FF FF FD FD``,
    LEN counts the stuffed bytes, CRC over the stuffed packet), status instruction 0x55, the
    error byte (bit 7 alert, bits 0..6 error number), broadcast id 0xFE.
  * ROBOTIS e-Manual "XM430-W350" control table (the current page, without the Acceleration
    Limit of firmware before v42): addresses, sizes, access, initial values and ranges, the
    Hardware Error Status bits below, and the notes this module and the emulator follow:
    Present Position = Actual Position + Homing Offset (the offset keeps its sign in reverse
    mode; in Position Control Mode only offsets within +-1,024 are used); Drive Mode bit 0
    inverts Goal and Present Position; Min/Max Position Limit apply in Position Control
    Mode only (goals range +-1,048,575 in the extended modes); Present Position is reset to
    one turn at power-on/reboot, on entering Position Control Mode and on torque-on in it;
    Realtime Tick counts milliseconds 0..32,767; EEPROM is writable only with torque off.
  * ROBOTIS e-Manual "DYNAMIXEL Protocol 2.0": Factory Reset options (0xFF all, 0x01 all
    but the id, 0x02 all but id and baud rate; a broadcast 0xFF is ignored), Reboot, Clear
    (0x01 + 44 58 4C 22: Present Position back into one turn, Result Fail while moving),
    Bulk Read/Write parameter layouts. Fast Sync/Bulk Read's single status packet
    (per servo: error, id, data, CRC so far) as parsed by dynamixel-sdk 4.1.
"""

from __future__ import annotations

from typing import NamedTuple

HEADER = b'\xff\xff\xfd\x00'
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
INST_CLEAR = 0x10
INST_STATUS = 0x55
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83
INST_FAST_SYNC_READ = 0x8A
INST_BULK_READ = 0x92
INST_BULK_WRITE = 0x93
INST_FAST_BULK_READ = 0x9A

#: Factory Reset options and Clear's fixed parameters
RESET_ALL = 0xFF
RESET_ALL_BUT_ID = 0x01
RESET_ALL_BUT_ID_AND_BAUD = 0x02
CLEAR_MULTI_TURN = bytes((0x01, 0x44, 0x58, 0x4C, 0x22))

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


#: Encoder steps per revolution
RESOLUTION = 4096
#: Goal Position range of the extended position modes (+-256 turns)
EXTENDED_GOAL_LIMIT = 1_048_575
#: Homing Offset values Position Control Mode uses (others are ignored there)
POSITION_MODE_OFFSET_LIMIT = 1024

# Operating Mode (11) values
MODE_CURRENT = 0
MODE_VELOCITY = 1
MODE_POSITION = 3
MODE_EXTENDED_POSITION = 4
MODE_CURRENT_POSITION = 5
MODE_PWM = 16

#: Drive Mode (10) bit 0: reverse
DRIVE_MODE_REVERSE = 0x01

#: Baud Rate (8) code -> bits per second
BAUD_RATES: dict[int, int] = {
    0: 9_600,
    1: 57_600,
    2: 115_200,
    3: 1_000_000,
    4: 2_000_000,
    5: 3_000_000,
    6: 4_000_000,
    7: 4_500_000,
}

#: unit of Goal/Present Velocity, Velocity Limit, Profile Velocity: 0.229 rev/min
VELOCITY_UNIT_RPM = 0.229
#: unit of Profile Acceleration: 214.577 rev/min²
ACCELERATION_UNIT_RPM2 = 214.577


class Register(NamedTuple):
    """
    One control-table entry.

    Address, size in bytes, host may write it, initial value, signed (two's complement).
    """

    address: int
    size: int
    writable: bool = True
    default: int = 0
    signed: bool = False


# EEPROM area (writable only while torque is off)
MODEL_NUMBER = Register(0, 2, False, XM430_W350_MODEL_NUMBER)
MODEL_INFORMATION = Register(2, 4, False)
FIRMWARE = Register(6, 1, False, FIRMWARE_VERSION)
ID = Register(7, 1, True, 1)
BAUD_RATE = Register(8, 1, True, 1)
RETURN_DELAY_TIME = Register(9, 1, True, 250)
DRIVE_MODE = Register(10, 1)
OPERATING_MODE = Register(11, 1, True, 3)  # 3 = position control, 4 = extended position
SECONDARY_ID = Register(12, 1, True, 255)
PROTOCOL_TYPE = Register(13, 1, True, 2)
HOMING_OFFSET = Register(20, 4, signed=True)
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
GOAL_PWM = Register(100, 2, signed=True)
GOAL_CURRENT = Register(102, 2, signed=True)
GOAL_VELOCITY = Register(104, 4, signed=True)
PROFILE_ACCELERATION = Register(108, 4)
PROFILE_VELOCITY = Register(112, 4)
GOAL_POSITION = Register(116, 4, signed=True)
REALTIME_TICK = Register(120, 2, False)
MOVING = Register(122, 1, False)
MOVING_STATUS = Register(123, 1, False)
PRESENT_PWM = Register(124, 2, False, signed=True)
PRESENT_CURRENT = Register(126, 2, False, signed=True)  # 2.69 mA units
PRESENT_VELOCITY = Register(128, 4, False, signed=True)
PRESENT_POSITION = Register(132, 4, False, signed=True)
VELOCITY_TRAJECTORY = Register(136, 4, False, signed=True)
POSITION_TRAJECTORY = Register(140, 4, False, signed=True)
PRESENT_INPUT_VOLTAGE = Register(144, 2, False)  # 0.1 V
PRESENT_TEMPERATURE = Register(146, 1, False)  # degrees Celsius

REGISTERS: tuple[Register, ...] = tuple(
    v for v in dict(globals()).values() if isinstance(v, Register)
)

#: Indirect Address n (2 bytes, initial value: its Indirect Data byte's address) -> the
#: Indirect Data byte that reads and writes the address it holds: 1..28 and 29..56.
INDIRECT_BLOCKS: tuple[tuple[int, int, int], ...] = ((168, 224, 28), (578, 634, 28))
INDIRECT_ADDRESSES: tuple[Register, ...] = tuple(
    Register(first + 2 * i, 2, True, data + i)
    for first, data, count in INDIRECT_BLOCKS
    for i in range(count)
)
INDIRECT_DATA: tuple[Register, ...] = tuple(
    Register(data + i, 1) for _first, data, count in INDIRECT_BLOCKS for i in range(count)
)
#: the whole table (the last Indirect Data byte is 661)
TABLE_SIZE = 662

#: One sync read from Moving through Present Temperature covers what read_status needs.
STATUS_BLOCK = Register(MOVING.address, PRESENT_TEMPERATURE.address + 1 - MOVING.address, False)

# Hardware Error Status (address 70) bits (e-Manual XM430-W350); bit 1 is unused.
HARDWARE_ERROR_BITS: dict[int, str] = {
    0x01: 'voltage',
    0x04: 'overheat',
    0x08: 'encoder',
    0x10: 'electrical_shock',
    0x20: 'overload',
}


def hardware_error_flags(status: int) -> list[str]:
    """Names of the bits set in a Hardware Error Status byte."""
    return [name for bit, name in HARDWARE_ERROR_BITS.items() if status & bit]
