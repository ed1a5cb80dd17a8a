"""
LeRobot's own motor buses as a peer, run by LeRobot's Python (3.12) in its own process.

Used by test_lerobot_interop.py: ``<lerobot python> lerobot_peer.py <command> <port> [args]``,
with /work/shared/lerobot_interop (``lrload``) on PYTHONPATH. Prints one JSON object.
Client code only: every call is LeRobot's public bus API, as its robots use it.

Commands:
  so101-calibrate PORT RANGES.json OUT.json   what SOFollower.calibrate() does to the servos
      (torque off, position mode, half-turn homings at the current pose, ranges written),
      the ranges given instead of recorded by hand; saves LeRobot's calibration JSON
  so101-configure PORT CAL.json               SOFollower.configure()'s register writes
  so101-read PORT CAL.json                    is_calibrated, and the normalised positions
  xm430-roundtrip PORT                        DynamixelMotorsBus: write (drive modes as the
      Koch follower does, then write_calibration) and read back a calibration with a
      reversed servo, then the present positions
"""

from __future__ import annotations

import dataclasses
import json
import sys

import lrload  # noqa: F401 - registers lerobot.utils without torch (see its README)
from lrload import DynamixelMotorsBus, FeetechMotorsBus, Motor, MotorCalibration, MotorNormMode

SO101 = ['shoulder_pan', 'shoulder_lift', 'elbow_flex', 'wrist_flex', 'wrist_roll', 'gripper']


def so101_bus(port: str, calibration: dict | None = None) -> FeetechMotorsBus:
    motors = {
        name: Motor(
            i + 1,
            'sts3215',
            MotorNormMode.RANGE_0_100 if name == 'gripper' else MotorNormMode.DEGREES,
        )
        for i, name in enumerate(SO101)
    }
    return FeetechMotorsBus(port, motors, calibration)


def load(path: str) -> dict:
    with open(path) as f:
        return {name: MotorCalibration(**values) for name, values in json.load(f).items()}


def main(argv: list[str]) -> dict:
    command, port = argv[0], argv[1]
    if command == 'so101-calibrate':
        with open(argv[2]) as f:
            ranges = json.load(f)
        bus = so101_bus(port)
        bus.connect()
        bus.disable_torque()
        for motor in bus.motors:
            bus.write('Operating_Mode', motor, 0)
        homings = bus.set_half_turn_homings()
        calibration = {
            name: MotorCalibration(
                id=m.id,
                drive_mode=0,
                homing_offset=homings[name],
                range_min=ranges[name][0],
                range_max=ranges[name][1],
            )
            for name, m in bus.motors.items()
        }
        bus.write_calibration(calibration)
        with open(argv[3], 'w') as f:
            json.dump(
                {name: dataclasses.asdict(c) for name, c in calibration.items()}, f, indent=4
            )
        bus.disconnect(disable_torque=False)
        return {'homings': homings}
    if command == 'so101-configure':
        bus = so101_bus(port, load(argv[2]))
        bus.connect()
        with bus.torque_disabled():
            bus.configure_motors()
            for motor in bus.motors:
                bus.write('P_Coefficient', motor, 16)
                bus.write('I_Coefficient', motor, 0)
                bus.write('D_Coefficient', motor, 32)
            bus.write('Max_Torque_Limit', 'gripper', 500)
            bus.write('Protection_Current', 'gripper', 250)
            bus.write('Overload_Torque', 'gripper', 25)
        bus.disable_torque()
        bus.disconnect(disable_torque=False)
        return {'configured': True}
    if command == 'so101-read':
        bus = so101_bus(port, load(argv[2]))
        bus.connect()
        result = {
            'is_calibrated': bus.is_calibrated,
            'normalized': bus.sync_read('Present_Position'),
            'raw': bus.sync_read('Present_Position', normalize=False),
        }
        bus.disconnect(disable_torque=False)
        return result
    if command == 'xm430-roundtrip':
        motors = {
            f'joint{i}': Motor(10 + i, 'xm430-w350', MotorNormMode.DEGREES) for i in range(1, 6)
        }
        bus = DynamixelMotorsBus(port, motors)
        bus.connect()
        bus.disable_torque()
        written = {
            name: MotorCalibration(
                id=m.id,
                drive_mode=int(name == 'joint3'),
                homing_offset=-50 * m.id,
                range_min=500,
                range_max=3500,
            )
            for name, m in motors.items()
        }
        for (
            name,
            calibration,
        ) in written.items():  # as LeRobot's Koch follower sets its drive modes
            bus.write('Drive_Mode', name, calibration.drive_mode)
        bus.write_calibration(written)
        back = bus.read_calibration()
        result = {
            'round_trip': {n: dataclasses.asdict(c) for n, c in back.items()},
            'raw': bus.sync_read('Present_Position', normalize=False),
        }
        bus.disconnect(disable_torque=False)
        return result
    raise SystemExit(f'unknown command {command}')


if __name__ == '__main__':
    print(json.dumps(main(sys.argv[1:])))
