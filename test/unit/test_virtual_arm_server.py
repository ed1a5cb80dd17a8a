"""
The virtual arm on a real pty, driven by the real host backends (PWM protocols) in-process.

And the `robot-touch virtual-arm` command as a child process.
"""

from __future__ import annotations

from contextlib import contextmanager
import os
import selectors
import signal
import subprocess
import sys
import time
from typing import Iterator

import pytest
from robot_touch.core.profile import load_profile
from robot_touch.protocols.base import PortGone, ServoBus
from robot_touch.protocols.registry import get_bus_class, open_port
from robot_touch.virtual_arm.server import Faults, VirtualArm, VirtualArmError
from support.waiting import wait_for

PWM_PROTOCOLS = ['ssc32', 'maestro']


@pytest.fixture(scope='module')
def servo6():
    return load_profile('servo6')


@contextmanager
def connected(
    arm: VirtualArm, path: str | None = None, options: dict | None = None
) -> Iterator[ServoBus]:
    """
    Return a host backend of the arm's protocol on the arm's pty (or on ``path``).

    The port is closed on leaving.
    """
    bus_class = get_bus_class(arm.protocol)
    port = open_port(path or arm.port_path, bus_class.default_baudrate)
    try:
        ids = sorted(arm.servos)
        yield bus_class(
            port, ids, options if options is not None else dict(arm.profile.protocol_options)
        )
    finally:
        port.close()


def goals_for(arm: VirtualArm, fraction: float) -> dict[int, int]:
    """
    Goals at ``fraction`` of each joint's range (distinct per servo, inside every range).

    What the host knows from the profile, the emulator knowing nothing of it.
    """
    goals = {}
    for spec in arm.profile.all_joints:
        low, high = sorted(spec.calibration.to_raw(limit) for limit in (spec.lower, spec.upper))
        goals[spec.servo_id] = round(low + fraction * (high - low))
    return goals


def reach(bus, goals: dict[int, int], timeout: float = 5.0) -> None:
    bus.write_goals(goals)
    wait_for(lambda: bus.read_positions() == goals, timeout, f'positions {goals}')


@pytest.mark.timeout(20)
@pytest.mark.parametrize('protocol', PWM_PROTOCOLS, ids=PWM_PROTOCOLS)
def test_goals_are_reached_and_read_back(servo6, protocol):
    with VirtualArm(servo6, protocol=protocol) as arm:
        with connected(arm) as bus:
            assert bus.ping(sorted(arm.servos)[0])
            home = dict.fromkeys(arm.servos, 1500)  # every joint's home is 0 rad = 1500 µs
            wait_for(lambda: bus.read_positions() == home, 5, 'the home positions')
            goals = goals_for(arm, 0.7)
            reach(bus, goals)
            # (an SSC-32 reads back in 10 µs steps: the last few µs are not visible to the host)
            wait_for(
                lambda: all(
                    arm.servos[sid].position == pytest.approx(goal) for sid, goal in goals.items()
                ),
                2,
                'the servos at their goals',
            )
            assert bus.stats.bad_replies == 0


@pytest.mark.timeout(20)
@pytest.mark.parametrize('protocol', PWM_PROTOCOLS, ids=PWM_PROTOCOLS)
def test_dropped_replies_read_as_missing_never_as_positions(servo6, protocol):
    with VirtualArm(servo6, protocol=protocol) as arm:
        with connected(arm) as bus:
            goals = goals_for(arm, 0.2)
            reach(bus, goals)
            arm.faults = Faults(drop=1.0)
            assert bus.read_positions() == dict.fromkeys(arm.servos)
            assert bus.stats.timeouts > 0
            # Maestro replies are pipelined per channel: one lost reply voids the whole read.
            arm.faults = Faults(drop=0.3 if protocol == 'ssc32' else 0.05, seed=1)
            seen = []
            for _ in range(20):
                seen += [v for v in bus.read_positions().values() if v is not None]
            assert seen and set(seen) <= set(goals.values())
            assert arm.stats.dropped > 0


@pytest.mark.timeout(20)
@pytest.mark.parametrize('protocol', PWM_PROTOCOLS, ids=PWM_PROTOCOLS)
def test_corrupted_replies_are_detected_never_a_wrong_position(servo6, protocol):
    with VirtualArm(servo6, protocol=protocol) as arm:
        with connected(arm) as bus:
            goals = goals_for(arm, 0.8)
            reach(bus, goals)
            arm.faults = Faults(corrupt=0.5, seed=2)
            for _ in range(40):
                # Ground truth from the emulator around the read: a reported position must be
                # where the servo really was (at rest: exactly its goal), never a corrupted value.
                before = {sid: s.position for sid, s in arm.servos.items()}
                positions = bus.read_positions()
                after = {sid: s.position for sid, s in arm.servos.items()}
                resolution = bus.readback_resolution
                for sid, goal in goals.items():
                    value = positions[sid]
                    if value is None:
                        continue
                    low, high = sorted((before[sid], after[sid]))
                    if low == high == goal:
                        assert value == goal, (sid, positions)
                    else:  # not expected; a servo that moves must still read its true position
                        assert low - resolution <= value <= high + resolution, (
                            sid,
                            value,
                            low,
                            high,
                            positions,
                        )
            assert arm.stats.corrupted > 5
            assert bus.stats.bad_replies > 0  # the host noticed


@pytest.mark.timeout(20)
def test_unplug_fails_the_host_port_and_replug_repoints_the_link(servo6, tmp_path):
    link = tmp_path / 'ttyARM'
    with VirtualArm(servo6, link=link) as arm:
        assert os.readlink(link) == arm.port_path
        with connected(arm, str(link)) as bus:
            reach(bus, goals_for(arm, 0.6))
            arm.unplug()
            assert not arm.plugged and not os.path.lexists(link)
            with pytest.raises(PortGone):
                bus.write_goals(goals_for(arm, 0.5))
                bus.read_positions()
        arm.replug()
        assert os.readlink(link) == arm.port_path
        with connected(arm, str(link)) as bus:  # reopened by name, as a reconnecting host does
            # a new host knows no goals: QP's 10 µs resolution shows
            held = wait_for(
                lambda: (p := bus.read_positions()) and None not in p.values() and p,
                5,
                'positions',
            )
            assert all(abs(held[sid] - goal) <= 5 for sid, goal in goals_for(arm, 0.6).items()), (
                held
            )
            reach(bus, goals_for(arm, 0.4))
    assert not os.path.lexists(link)


@pytest.mark.timeout(20)
def test_timed_unplug_and_replug(servo6, tmp_path):
    link = tmp_path / 'ttyARM'
    with VirtualArm(servo6, link=link, faults=Faults(unplug_after=0.3, replug_after=0.3)) as arm:
        with connected(arm, str(link)) as bus:

            def failed() -> bool:
                try:
                    bus.read_positions()
                except PortGone:
                    return True
                return False

            wait_for(failed, 5, "the host's port to fail")
        wait_for(lambda: os.path.lexists(link), 5, 'the link to come back')
        with connected(arm, str(link)) as bus:
            home = dict.fromkeys(arm.servos, 1500)  # at home all along
            wait_for(lambda: bus.read_positions() == home, 5, 'the home positions')
            assert arm.stats.unplugs == 1


def test_link_never_replaces_a_regular_file(servo6, tmp_path):
    taken = tmp_path / 'taken'
    taken.write_text('mine')
    with pytest.raises(VirtualArmError, match='not a symlink'):
        VirtualArm(servo6, link=taken).start()
    assert taken.read_text() == 'mine'


def test_a_link_that_cannot_be_made_is_a_user_error(servo6, tmp_path, capsys):
    from robot_touch.cli.main import main

    missing = tmp_path / 'no' / 'such' / 'dir' / 'tty'
    arm = VirtualArm(servo6, link=missing)
    with pytest.raises(VirtualArmError, match='cannot make the link'):
        arm.start()
    assert not arm.plugged
    assert main(['virtual-arm', '--arm', 'servo6', '--link', str(missing)]) == 2
    assert 'cannot make the link' in capsys.readouterr().err


@pytest.mark.parametrize(
    'faults',
    [{'drop': 1.5}, {'corrupt': -0.1}, {'latency': float('nan')}],
    ids=['drop', 'corrupt', 'latency'],
)
def test_bad_fault_settings_are_refused(faults):
    with pytest.raises(VirtualArmError):
        Faults(**faults)


@pytest.mark.timeout(30)
def test_cli_prints_the_port_again_after_a_replug_and_exits_cleanly_on_sigterm(tmp_path):
    link = tmp_path / 'arm.tty'
    command = [
        sys.executable,
        '-m',
        'robot_touch.cli.main',
        'virtual-arm',
        '--arm',
        'servo6',
        '--link',
        str(link),
    ]
    proc = subprocess.Popen(
        command + ['--unplug-after', '0.5', '--replug-after', '0.2'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        lines = []
        for _ in range(2):
            assert selector.select(timeout=20), f'no PORT line from virtual-arm after {lines}'
            lines.append(proc.stdout.readline())
        assert all(line.startswith('PORT /dev/') for line in lines), lines
        assert os.readlink(link) == lines[1].split()[1]  # re-pointed to the new pty
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
        assert not os.path.lexists(link)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.timeout(10)
def test_latency_holds_replies_back(servo6):
    with VirtualArm(servo6, faults=Faults(latency=0.15)) as arm:
        port = open_port(arm.port_path, 115200, timeout=0.5)
        try:
            start = time.monotonic()
            port.write(b'VER\r')
            assert port.read_until(b'\r') == b'SSC32-V2.50USB\r'
            assert time.monotonic() - start >= 0.15
        finally:
            port.close()


def test_cli_rejects_an_unknown_protocol(tmp_path):
    from robot_touch.cli.main import main

    assert main(['virtual-arm', '--arm', 'servo6', '--protocol', 'nonesuch']) == 2
