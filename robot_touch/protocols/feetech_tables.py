"""
Feetech STS3215 (SMS/STS series) memory table and protocol constants.

Sources (facts only, no text copied):
  * Feetech "SCS/SMS/STS communication protocol manual" (FT-SCS protocol, doc.feetech.cn):
    packet layout ``FF FF ID LEN INSTR PARAMS CHECKSUM``, LEN = params + 2,
    CHECKSUM = ~(ID + LEN + INSTR + PARAMS) & 0xFF, broadcast id 0xFE, the instructions
    below (RESTORE 0x06 restores the EEPROM to factory values except the id, REBOOT 0x08
    answers nothing, RESET 0x0A clears the turn count, CALIBRATE 0x0B sets the present
    position to 2048 or to the value given).
  * Feetech SMS/STS memory table (doc.feetech.cn "FT-SMS-STS-emanual"): addresses, sizes,
    access, the EEPROM/SRAM split, the "Servo status" bits (65), the Phase bits (18: bit 4
    single-turn/multi-turn position feedback, bit 7 position feedback direction), Lock (55:
    1 = EEPROM writes are not kept over a power cycle), Torque Enable 128 (the present
    position becomes 2048), Torque Limit (48) loaded from Max Torque Limit (16) at power-on,
    Min/Max Position Limit both 0 = multi-turn (no limit), sign-magnitude encodings
    (Homing Offset bit 11, Goal/Present Position and Speed bit 15, Present Load bit 10),
    baud-rate codes.
  * LeRobot ``lerobot/motors/feetech/tables.py`` (STS_SMS_SERIES_CONTROL_TABLE, model 777 =
    STS3215) for the register names and the factory area (80..86), and
    ``lerobot/motors/feetech/feetech.py`` for "Present_Position = Actual_Position -
    Homing_Offset". Cross-checked against feetech-servo-sdk 1.0.0 (``scservo_sdk``).
  * STS3215 factory values the memory table leaves to the model (Phase 12, Unloading
    Condition 44, LED Alarm 47, P/D/I 32/32/0, Minimum Startup Force 16, the protection
    settings): as read back from STS3215 servos in published SO-101 register dumps, and
    LeRobot's SO follower, which lowers P from the factory 32 to 16.
"""

from __future__ import annotations

from typing import NamedTuple

HEADER = b'\xff\xff'
BROADCAST_ID = 0xFE
MAX_ID = 0xFD  # ids 0..253 address one servo

# Instructions (FT-SCS protocol manual)
INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_RESTORE = 0x06  # factory values, id kept
INST_REBOOT = 0x08
INST_RESET = 0x0A  # clears the multi-turn count
INST_CALIBRATE = 0x0B  # present position := 2048 (or the 2-byte value given)
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83

#: Model number the STS3215 reports at address 3 (LeRobot MODEL_NUMBER_TABLE["sts3215"]).
STS3215_MODEL_NUMBER = 777
#: Firmware the emulated servo reports: a release recent enough for CALIBRATE (0x0B), which
#: the protocol manual gives from STS firmware 3.10.
FIRMWARE_VERSION = (3, 10)
#: Encoder steps per revolution
RESOLUTION = 4096


class Register(NamedTuple):
    """
    One memory-table entry.

    :ivar address, size: where it is (little-endian).:
    :ivar writable: the host may write it (read-only bytes keep their value).
    :ivar default: factory value of an STS3215.
    :ivar eeprom: kept over a power cycle (when written with Lock at 0).
    :ivar sign_bit: sign-magnitude encoding with this sign bit (None: unsigned).
    """

    address: int
    size: int
    writable: bool = True
    default: int = 0
    eeprom: bool = False
    sign_bit: int | None = None


# Version information (read-only)
FIRMWARE_MAJOR = Register(0, 1, False, FIRMWARE_VERSION[0], True)
FIRMWARE_MINOR = Register(1, 1, False, FIRMWARE_VERSION[1], True)
MODEL_NUMBER = Register(3, 2, False, STS3215_MODEL_NUMBER, True)
# EEPROM area
ID = Register(5, 1, True, 1, True)
BAUD_RATE = Register(6, 1, True, 0, True)  # code 0 = 1 Mbps, see BAUD_RATES
RETURN_DELAY = Register(7, 1, True, 0, True)  # 2 µs units
RESPONSE_STATUS_LEVEL = Register(8, 1, True, 1, True)  # 0: answer only PING/READ, 1: everything
MIN_POSITION_LIMIT = Register(9, 2, True, 0, True)
MAX_POSITION_LIMIT = Register(11, 2, True, 4095, True)
MAX_TEMPERATURE_LIMIT = Register(13, 1, True, 70, True)  # degrees Celsius
#: 0.1 V; the memory table leaves it to the model: 8.0 V on the 7.4 V STS3215, 14.0 V on the
#: 12 V one (the SO-101 follower's); the emulator is the 12 V servo.
MAX_INPUT_VOLTAGE = Register(14, 1, True, 140, True)
MIN_INPUT_VOLTAGE = Register(15, 1, True, 40, True)  # 0.1 V
MAX_TORQUE_LIMIT = Register(16, 2, True, 1000, True)  # 0.1 %
PHASE = Register(18, 1, True, 12, True)
UNLOADING_CONDITION = Register(19, 1, True, 44, True)
LED_ALARM_CONDITION = Register(20, 1, True, 47, True)
P_COEFFICIENT = Register(21, 1, True, 32, True)
D_COEFFICIENT = Register(22, 1, True, 32, True)
I_COEFFICIENT = Register(23, 1, True, 0, True)
MIN_STARTUP_FORCE = Register(24, 2, True, 16, True)
CW_DEAD_ZONE = Register(26, 1, True, 1, True)
CCW_DEAD_ZONE = Register(27, 1, True, 1, True)
PROTECTION_CURRENT = Register(28, 2, True, 500, True)  # 6.5 mA units
ANGULAR_RESOLUTION = Register(30, 1, True, 1, True)
HOMING_OFFSET = Register(31, 2, True, 0, True, 11)
OPERATING_MODE = Register(33, 1, True, 0, True)  # 0 position, 1 speed, 2 PWM, 3 step
PROTECTIVE_TORQUE = Register(34, 1, True, 20, True)  # % after an overload
PROTECTION_TIME = Register(35, 1, True, 200, True)  # 10 ms units
OVERLOAD_TORQUE = Register(36, 1, True, 80, True)  # %
SPEED_P_COEFFICIENT = Register(37, 1, True, 10, True)
OVERCURRENT_PROTECTION_TIME = Register(38, 1, True, 200, True)
SPEED_I_COEFFICIENT = Register(39, 1, True, 200, True)
# SRAM area (power-on values)
TORQUE_ENABLE = Register(40, 1)  # 0 off, 1 on, 2 damped, 128 present position := 2048
ACCELERATION = Register(41, 1)  # 100 steps/s² units, 0 = the servo's maximum
GOAL_POSITION = Register(42, 2, sign_bit=15)
GOAL_TIME = Register(44, 2)
GOAL_SPEED = Register(46, 2, sign_bit=15)  # steps/s, 0 = the servo's maximum
TORQUE_LIMIT = Register(48, 2)  # loaded from MAX_TORQUE_LIMIT at power-on; 0 = no torque
LOCK = Register(55, 1, True, 1)
PRESENT_POSITION = Register(56, 2, False, sign_bit=15)
PRESENT_SPEED = Register(58, 2, False, sign_bit=15)  # steps/s
PRESENT_LOAD = Register(60, 2, False, sign_bit=10)  # 0.1 % of maximum
PRESENT_VOLTAGE = Register(62, 1, False)  # 0.1 V
PRESENT_TEMPERATURE = Register(63, 1, False)  # degrees Celsius
ASYNC_WRITE_FLAG = Register(64, 1, False)  # a REG_WRITE is waiting for ACTION
SERVO_STATUS = Register(65, 1, False)  # error bits, layout below
MOVING = Register(66, 1, False)
PRESENT_CURRENT = Register(69, 2, False)  # 6.5 mA units
GOAL_POSITION_2 = Register(71, 2, False)  # the goal the servo is executing
# Factory area (LeRobot's table; LeRobot's SO follower writes Maximum Acceleration). The
# memory table gives no values: the emulator's are plausible for an STS3215, not measured.
MOVING_VELOCITY_THRESHOLD = Register(80, 1, True, 2, True)
DTS = Register(81, 1, True, 32, True)  # ms
VELOCITY_UNIT_FACTOR = Register(82, 1, True, 50, True)
HTS = Register(83, 1, True, 0, True)  # ns, firmware ≥ 2.54
MAXIMUM_VELOCITY_LIMIT = Register(84, 1, True, 61, True)  # 0.732 rpm units: ~45 rpm
MAXIMUM_ACCELERATION = Register(85, 1, True, 50, True)
ACCELERATION_MULTIPLIER = Register(86, 1, True, 1, True)
#: Size of the memory table: reads beyond it get no reply.
TABLE_SIZE = 87
#: First address of the SRAM area (everything before it is EEPROM)
SRAM_START = TORQUE_ENABLE.address

REGISTERS: tuple[Register, ...] = tuple(
    v for v in dict(globals()).values() if isinstance(v, Register)
)

#: One sync read from Present Position through Moving covers every field read_status needs.
STATUS_BLOCK = Register(
    PRESENT_POSITION.address, MOVING.address + 1 - PRESENT_POSITION.address, False
)

GOAL_SIGN_BIT = 15
POSITION_SIGN_BIT = 15
LOAD_SIGN_BIT = 10
SPEED_SIGN_BIT = 15
HOMING_SIGN_BIT = 11

#: Phase (18) bits the emulator honours
PHASE_MULTI_TURN_FEEDBACK = 0x10
PHASE_FEEDBACK_REVERSED = 0x80

#: Baud Rate (6) code -> bits per second (memory table)
BAUD_RATES: dict[int, int] = {
    0: 1_000_000,
    1: 500_000,
    2: 250_000,
    3: 128_000,
    4: 115_200,
    5: 76_800,
    6: 57_600,
    7: 38_400,
}

# Error bits of the status packet's error byte and of "Servo status" (65). The STS memory
# table names bit 1 "sensor" and bit 4 "angle"; scservo_sdk 1.0.0 calls bit 1 "angle" and
# leaves bit 4 out: the memory table is the authority here.
ERROR_BITS: dict[int, str] = {
    0x01: 'voltage',
    0x02: 'sensor',
    0x04: 'overheat',
    0x08: 'overcurrent',
    0x10: 'angle',
    0x20: 'overload',
}


def error_flags(error: int) -> list[str]:
    """Names of the error bits set in a Feetech error/status byte."""
    return [name for bit, name in ERROR_BITS.items() if error & bit]
