"""
Servo-side calibration registers.

Checked against the calibration file (pure), recorded in it, and checked by the bridge's I/O worker
at connect before anything is written.
"""

from __future__ import annotations

import pytest
from robot_touch.bridge.hardware import HardwareConfig, HardwareWorker
from robot_touch.core.bridge_core import BridgeCore, build_converters
from robot_touch.core.calibration import CalibrationError, merge_calibration, parse_calibration
from robot_touch.core.servo_settings import check_servo_settings, describe_settings
from robot_touch.protocols.base import ServoBus
import serial
from support.waiting import wait_for
import yaml

NAMES = {1: 'shoulder_pan', 3: 'elbow_flex'}
FILE = {
    1: {
        'homing_offset': -23,
        'min_position_limit': 980,
        'max_position_limit': 3115,
        'drive_mode': 0,
    },
    3: {
        'homing_offset': 40,
        'min_position_limit': 850,
        'max_position_limit': 3063,
        'drive_mode': 0,
    },
}


def test_servos_that_read_what_the_file_says_pass():
    assert check_servo_settings(
        FILE, {sid: {**values, 'p_coefficient': 16} for sid, values in FILE.items()}, NAMES
    ).ok


@pytest.mark.parametrize(
    'register, label',
    [
        ('homing_offset', 'Homing_Offset'),
        ('max_position_limit', 'Max_Position_Limit'),
        ('drive_mode', 'Drive_Mode'),
    ],
)
def test_a_difference_is_one_fatal_line_naming_servo_and_register(register, label):
    read = {sid: dict(values) for sid, values in FILE.items()}
    read[3][register] += 1
    verdict = check_servo_settings(FILE, read, NAMES)
    assert not verdict.ok and verdict.fatal
    assert verdict.message.startswith(
        f'elbow_flex (servo 3): {label} reads {FILE[3][register] + 1}, '
        f'the calibration file says {FILE[3][register]}'
    )
    assert '\n' not in verdict.message


def test_a_servo_that_does_not_answer_is_not_fatal():
    verdict = check_servo_settings(FILE, {1: FILE[1]}, NAMES)
    assert (
        not verdict.ok
        and not verdict.fatal
        and 'elbow_flex (servo 3) did not answer' in verdict.message
    )


def test_describe_notes_factory_values_lerobot_changes():
    factory = {
        'model_number': 777,
        'p_coefficient': 32,
        'max_torque_limit': 1000,
        'protection_current': 500,
        'overload_torque': 80,
    }
    lerobot = {
        **factory,
        'p_coefficient': 16,
        'max_torque_limit': 500,
        'protection_current': 250,
        'overload_torque': 25,
    }
    lines = describe_settings(
        {1: factory, 6: lerobot}, {1: 'shoulder_pan', 6: 'gripper'}, gripper_id=6
    )
    assert 'p_coefficient is the factory 32; LeRobot sets 16' in lines[0]
    assert (
        'max_torque_limit' not in lines[0].split('note:', 1)[1]
    )  # the gripper's limits are for the gripper
    assert 'note' not in lines[1] and 'max_torque_limit 500' in lines[1]


def test_the_file_records_servo_registers_and_refuses_unknown_ones(so101):
    text = """
format: 1
arm: so101
protocol: feetech_sts
joints:
  elbow_flex: {zero: 2000, direction: 1, units_per_rad: 651.8986,
               servo: {homing_offset: 40, drive_mode: 0}}
"""
    cal = parse_calibration(yaml.safe_load(text))
    assert cal.joints['elbow_flex'].servo == {'homing_offset': 40, 'drive_mode': 0}
    assert yaml.safe_load(cal.to_yaml())['joints']['elbow_flex']['servo'] == {
        'homing_offset': 40,
        'drive_mode': 0,
    }
    for bad, message in (
        ('{homing_offset: 1.5}', 'joints.elbow_flex.servo.homing_offset: must be an integer'),
        ('{p_gain: 3}', 'joints.elbow_flex.servo.p_gain: unknown register'),
        ('[1, 2]', 'joints.elbow_flex.servo: must map register names to integers'),
    ):
        with pytest.raises(CalibrationError, match=message):
            parse_calibration(
                yaml.safe_load(text.replace('{homing_offset: 40, drive_mode: 0}', bad))
            )


class SettingsBus(ServoBus):
    """A backend whose servos hold ``SETTINGS``; records every write over loop://."""

    name = 'settings_test'
    settings_read: dict[int, dict[str, int]] = {}
    writes: list[tuple[str, object]] = []

    def ping(self, servo_id: int) -> bool:
        return True

    def write_goals(self, goals) -> None:
        self.writes.append(('goals', dict(goals)))

    def set_torque(self, enabled: bool) -> None:
        self.writes.append(('torque', enabled))

    def read_positions(self):
        return dict.fromkeys(self.ids, 2048)

    def read_settings(self):
        return {sid: dict(values) for sid, values in self.settings_read.items() if sid in self.ids}


def worker_with(so101, read: dict[int, dict[str, int]], logs: list) -> HardwareWorker:
    SettingsBus.settings_read = read
    SettingsBus.writes = []
    core = BridgeCore(build_converters(so101, merge_calibration(so101, None)), stale_timeout=0.03)
    config = HardwareConfig(
        port='loop://',
        baudrate=1_000_000,
        protocol='settings_test',
        rate=100.0,
        reconnect_initial=0.02,
        reconnect_max=0.05,
        servo_settings=FILE,
    )
    return HardwareWorker(
        core,
        config,
        log=lambda level, msg: logs.append((level, msg)),
        bus_class=SettingsBus,
        open_port=lambda url, baud, timeout: serial.serial_for_url('loop://', timeout=timeout),
    )


@pytest.mark.timeout(20)
def test_worker_refuses_a_rehomed_servo_before_writing_anything(so101):
    logs: list = []
    read = {sid: dict(values) for sid, values in FILE.items()}
    read[3]['homing_offset'] = 99
    worker = worker_with(so101, read, logs)
    worker.start()
    try:
        wait_for(lambda: worker.fatal, 5, 'the worker to stop on the mismatch')
        assert 'elbow_flex (servo 3): Homing_Offset reads 99' in worker.fatal
        assert SettingsBus.writes == []  # no goal, no torque: the arm never moved
        assert not worker.status().connected
        wait_for(
            lambda: any(
                level == 'error' and 'Homing_Offset reads 99' in msg for level, msg in logs
            ),
            5,
            'the refusal logged as an error',
        )
    finally:
        worker.stop()


@pytest.mark.timeout(20)
def test_worker_connects_when_the_servos_fit_and_logs_their_settings(so101):
    logs: list = []
    worker = worker_with(so101, {sid: dict(values) for sid, values in FILE.items()}, logs)
    worker.start()
    try:
        wait_for(
            lambda: any(kind == 'goals' for kind, _ in SettingsBus.writes), 5, 'goals written'
        )
        assert worker.fatal is None
        assert any('servo settings:' in msg and 'homing_offset -23' in msg for _, msg in logs)
    finally:
        worker.stop()


@pytest.mark.timeout(30)
def test_doctor_port_shows_each_servos_settings_read_only(capsys):
    from robot_touch.cli.main import main as robot_touch
    from robot_touch.virtual_arm.server import VirtualArm

    with VirtualArm('so101') as arm:

        def kept() -> list[bytes]:  # what survives a power cycle, and the goals
            return [bytes(u.persisted) + bytes(u.table[42:44]) for u in arm.device.units]

        before = arm.call(kept)
        assert robot_touch(['doctor', '--port', arm.port_path, '--arm', 'so101']) == 0
        report = capsys.readouterr().out
        assert 'gripper (servo 6): model_number 777, firmware_major 3, firmware_minor 10' in report
        assert 'homing_offset 0, min_position_limit 0, max_position_limit 4095' in report
        # factory STS3215s: LeRobot's settings are not in place, and the user is told
        assert 'p_coefficient is the factory 32; LeRobot sets 16' in report
        assert report.count('max_torque_limit is the factory 1000') == 1  # the gripper's only
        assert arm.call(kept) == before  # nothing was written
        assert not any(s.torque_enabled for s in arm.servos.values())

        def unplug_gripper_servo() -> None:
            arm.device.units.pop()
            arm.device._index()

        arm.call(unplug_gripper_servo)  # the gripper's servo does not answer any more
        assert robot_touch(['doctor', '--port', arm.port_path, '--arm', 'so101']) == 1
        assert 'gripper (servo 6): no answer - check its cable, power, id and baud rate' in (
            capsys.readouterr().out
        )
    with VirtualArm('servo6') as arm:
        assert robot_touch(['doctor', '--port', arm.port_path, '--arm', 'servo6']) == 0
        assert 'keeps no servo settings' in capsys.readouterr().out
