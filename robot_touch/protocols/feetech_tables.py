"""Feetech STS3215 (SMS/STS series) control table and protocol constants.

Sources (facts only, no text copied):
  * Feetech "SCS/SMS/STS communication protocol manual" (FT-SCS protocol, doc.feetech.cn):
    packet layout ``FF FF ID LEN INSTR PARAMS CHECKSUM``, LEN = params + 2,
    CHECKSUM = ~(ID + LEN + INSTR + PARAMS) & 0xFF, broadcast id 0xFE, instructions.
  * Feetech STS3215 memory table (SMS_STS series): register addresses and sizes below,
    "Servo status" bits (address 65) and sign-magnitude encodings (Goal Position bit 15,
    Present Load bit 10, Present Speed bit 15).
  * Cross-checked against feetech-servo-sdk 1.0.0 (``scservo_sdk``) and LeRobot's
    ``lerobot/motors/feetech/tables.py`` (STS_SMS_SERIES_CONTROL_TABLE, model 777 = STS3215).
"""
from __future__ import annotations

from typing import NamedTuple

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFD  # ids 0..253 address one servo

# Instructions (FT-SCS protocol manual)
INST_PING = 0x01
INST_READ = 0x02
INST_WRITE = 0x03
INST_REG_WRITE = 0x04
INST_ACTION = 0x05
INST_SYNC_READ = 0x82
INST_SYNC_WRITE = 0x83

#: Model number the STS3215 reports at address 3 (LeRobot MODEL_NUMBER_TABLE["sts3215"]).
STS3215_MODEL_NUMBER = 777
#: Size of the emulated control table (the SMS/STS RAM area ends at 70).
TABLE_SIZE = 71


class Register(NamedTuple):
    """One control-table entry: address and size in bytes."""

    address: int
    size: int


# EEPROM area
MODEL_NUMBER = Register(3, 2)
ID = Register(5, 1)
BAUD_RATE = Register(6, 1)
RETURN_DELAY = Register(7, 1)
RESPONSE_STATUS_LEVEL = Register(8, 1)  # 0: answer only PING/READ, 1: answer everything
MIN_POSITION_LIMIT = Register(9, 2)
MAX_POSITION_LIMIT = Register(11, 2)
MAX_TEMPERATURE_LIMIT = Register(13, 1)  # degrees Celsius
MAX_INPUT_VOLTAGE = Register(14, 1)  # 0.1 V
MIN_INPUT_VOLTAGE = Register(15, 1)  # 0.1 V
OPERATING_MODE = Register(33, 1)
# SRAM area
TORQUE_ENABLE = Register(40, 1)
ACCELERATION = Register(41, 1)
GOAL_POSITION = Register(42, 2)  # sign-magnitude, sign in bit 15
GOAL_TIME = Register(44, 2)
GOAL_SPEED = Register(46, 2)
LOCK = Register(55, 1)
PRESENT_POSITION = Register(56, 2)  # sign-magnitude, sign in bit 15
PRESENT_SPEED = Register(58, 2)  # sign-magnitude, sign in bit 15
PRESENT_LOAD = Register(60, 2)  # sign-magnitude, sign in bit 10; 0.1 % of maximum
PRESENT_VOLTAGE = Register(62, 1)  # 0.1 V
PRESENT_TEMPERATURE = Register(63, 1)  # degrees Celsius
SERVO_STATUS = Register(65, 1)  # error bits, layout below
MOVING = Register(66, 1)
PRESENT_CURRENT = Register(69, 2)

#: One sync read from Present Position through Moving covers every field read_status needs.
STATUS_BLOCK = Register(PRESENT_POSITION.address, MOVING.address + 1 - PRESENT_POSITION.address)

GOAL_SIGN_BIT = 15
POSITION_SIGN_BIT = 15
LOAD_SIGN_BIT = 10
SPEED_SIGN_BIT = 15

# Error bits of the status packet's error byte and of "Servo status" (65). The STS memory
# table names bit 1 "sensor" and bit 4 "angle"; scservo_sdk 1.0.0 calls bit 1 "angle" and
# leaves bit 4 out: the memory table is the authority here.
ERROR_BITS: dict[int, str] = {
    0x01: "voltage",
    0x02: "sensor",
    0x04: "overheat",
    0x08: "overcurrent",
    0x10: "angle",
    0x20: "overload",
}


def error_flags(error: int) -> list[str]:
    """Names of the error bits set in a Feetech error/status byte."""
    return [name for bit, name in ERROR_BITS.items() if error & bit]
