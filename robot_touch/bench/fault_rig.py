"""
The serial path of a real graph in one process, with the virtual arm's true state recorded.

:class:`FaultRig` runs a :class:`~robot_touch.virtual_arm.server.VirtualArm` on a real pty,
the serial bridge's real I/O worker (:class:`~robot_touch.bridge.hardware.HardwareWorker`
with the profile's real backend) and the teleop core in a control thread at its rate with
absolute deadlines, wired as the ``serial_bridge`` and ``teleop`` nodes wire them (joint
states, NaN included, into teleop; teleop's commands into the bridge), without DDS in
between. It records the ground truth the fault tests and ``robot-touch bench faults`` judge
by: the emulated servos' own positions and goal registers (not what the bridge read), every
joint state the bridge published and every command teleop sent.

Faults: the virtual arm's (drop, corrupt, silence a servo, unplug, replug) and late bridge
cycles (``late``: a read held back by a given time, as a failing read's retries do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import random
import threading
import time
from typing import Any, Sequence

import numpy as np
from robot_touch.bridge.hardware import HardwareConfig, HardwareWorker
from robot_touch.core.bridge_core import BridgeCore, build_converters, Reading
from robot_touch.core.calibration import merge_calibration
from robot_touch.core.profile import ArmProfile, load_profile
from robot_touch.core.teleop_core import TeleopConfig, TeleopCore
from robot_touch.protocols.registry import get_bus_class
from robot_touch.virtual_arm.server import Faults, VirtualArm


@dataclass
class Late:
    """
    Late bridge cycles.

    With probability ``probability`` a read is held back by a time drawn uniformly from ``seconds``
    (min, max).
    """

    probability: float
    seconds: tuple[float, float]
    seed: int = 1


@dataclass
class Record:
    """What happened, on one monotonic clock (s); joint values in rad, profile order + gripper."""

    truth: list[tuple[float, list[float], list[float]]] = field(
        default_factory=list
    )  # t, positions, goals
    states: list[tuple[float, Reading]] = field(default_factory=list)  # publish time, reading
    commands: list[tuple[float, list[float]]] = field(default_factory=list)  # send time, command

    def truth_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(Time, positions, goals) of the emulated servos."""
        truth = list(self.truth)
        t = np.array([r[0] for r in truth])
        return t, np.array([r[1] for r in truth]), np.array([r[2] for r in truth])

    def command_array(self) -> tuple[np.ndarray, np.ndarray]:
        commands = list(self.commands)
        return np.array([c[0] for c in commands]), np.array([c[1] for c in commands])


def windowed(
    times: np.ndarray, values: np.ndarray, window: float
) -> tuple[np.ndarray, np.ndarray]:
    """
    Velocity and acceleration of ``values`` (rows per time) from ``window``-long averages.

    The values resampled every ``window`` seconds, then differenced.
    """
    if len(times) < 2:
        return np.zeros((0, values.shape[1])), np.zeros((0, values.shape[1]))
    grid = np.arange(times[0], times[-1], window)
    resampled = np.column_stack(
        [np.interp(grid, times, values[:, i]) for i in range(values.shape[1])]
    )
    velocity = np.diff(resampled, axis=0) / window
    return velocity, np.diff(velocity, axis=0) / window


class FaultRig:
    """
    See the module docstring.

    :param arm: profile name, path or object.
    :param faults: the virtual arm's reply faults.
    :param late: late bridge cycles, or None.
    :param rate: bridge and teleop rate (Hz).
    :param stale_timeout: the bridge's parameters.
    :param command_timeout: see ``stale_timeout``.
    :param teleop: teleop settings (rate is set to ``rate``).
    :param link: a symlink path for the pty (needed to replug).
    """

    def __init__(
        self,
        arm: str | ArmProfile = 'so101',
        faults: Faults | None = None,
        late: Late | None = None,
        rate: float = 100.0,
        stale_timeout: float = 0.15,
        command_timeout: float = 0.25,
        teleop: TeleopConfig | None = None,
        link: str | None = None,
        kinematics: Any = None,
    ) -> None:
        self.profile = arm if isinstance(arm, ArmProfile) else load_profile(arm)
        self.specs = list(self.profile.all_joints)
        self.names = [s.name for s in self.specs]
        self.record = Record()
        self.arm = VirtualArm(self.profile, faults=faults, link=link)
        device = self.arm.device
        step = device.step

        def recorded_step(dt: float) -> None:  # the emulator's own state, as it advances
            step(dt)
            servos = [device.servos[s.servo_id] for s in self.specs]
            self.record.truth.append(
                (
                    time.monotonic(),
                    [s.calibration.to_joint(v.position) for s, v in zip(self.specs, servos)],
                    [s.calibration.to_joint(v.goal) for s, v in zip(self.specs, servos)],
                )
            )

        device.step = recorded_step  # type: ignore[method-assign]
        self.period = 1.0 / rate
        joints = build_converters(self.profile, merge_calibration(self.profile, None))
        self.bridge = BridgeCore(
            joints,
            command_timeout=command_timeout,
            stale_timeout=stale_timeout,
            has_gripper=True,
            period=self.period,
        )
        config = teleop or TeleopConfig()
        config.rate = rate
        self.teleop = TeleopCore(self.profile, config, kinematics=kinematics)
        self._late = late
        self._link = link
        self.worker: HardwareWorker | None = None
        self._running = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 10.0) -> FaultRig:
        """Start everything; returns once teleop has sent its first command."""
        self.arm.start()
        bus = get_bus_class(self.profile.protocol)
        if self._late is not None:
            bus = _late_bus(bus, self._late)
        config = HardwareConfig(
            port=self._link or self.arm.port_path or '',
            baudrate=self.profile.baudrate,
            protocol=self.profile.protocol,
            protocol_options=self.profile.protocol_options,
            rate=1.0 / self.period,
            reconnect_initial=0.05,
            reconnect_max=0.2,
        )
        self.worker = HardwareWorker(self.bridge, config, on_state=self._on_state, bus_class=bus)
        self.worker.start()
        self._running = True
        self._thread = threading.Thread(target=self._control, name='fault_rig_teleop', daemon=True)
        self._thread.start()
        self.wait_until(lambda: self.record.commands, timeout, "teleop's first command")
        return self

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(2.0)
        if self.worker is not None:
            self.worker.stop()
        self.arm.stop()

    def __enter__(self) -> FaultRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ wiring

    def _on_state(self, reading: Reading) -> None:
        now = time.monotonic()
        self.record.states.append((now, reading))
        self.teleop.on_joint_states(self.names, reading.positions, now)

    def _control(self) -> None:
        last = time.monotonic()
        deadline = last + self.period
        while self._running:
            time.sleep(max(0.0, deadline - time.monotonic()))
            now = time.monotonic()
            cmd = self.teleop.step(now, now - last)
            last = now
            deadline += self.period
            if deadline <= now:
                deadline = now + self.period
            if cmd is None or self.worker is None:
                continue
            values = cmd.as_list()
            self.record.commands.append((now, values))
            try:
                self.worker.submit_command(values)
            except ValueError:
                pass  # refused and counted by the bridge

    # ------------------------------------------------------------------ driving

    def joint_target(self, **positions: float) -> Any:
        """Return a joint_target message to teleop (joint name → rad)."""
        return self.teleop.on_joint_target(list(positions), list(positions.values()))

    def servo_id(self, joint: str) -> int:
        return self.profile.joint(joint).servo_id

    def index(self, joint: str) -> int:
        return self.names.index(joint)

    @staticmethod
    def wait(seconds: float) -> None:
        time.sleep(seconds)

    @staticmethod
    def wait_until(predicate: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f'timed out after {timeout} s waiting for {what}')
            time.sleep(0.005)


def _late_bus(bus_class: type, late: Late) -> type:
    """``bus_class`` with some reads held back (a late bridge cycle)."""
    rng = random.Random(late.seed)

    class LateBus(bus_class):  # type: ignore[misc, valid-type]
        def read_positions(self) -> dict[int, int | None]:
            if rng.random() < late.probability:
                time.sleep(rng.uniform(*late.seconds))
            return super().read_positions()

    LateBus.__name__ = f'Late{bus_class.__name__}'
    return LateBus


def speeds(profile: ArmProfile) -> np.ndarray:
    """Velocity limits of every joint, gripper last (rad/s)."""
    return np.array([s.velocity for s in profile.all_joints])


def accelerations(profile: ArmProfile) -> np.ndarray:
    return np.array([s.acceleration for s in profile.all_joints])


def nan_free(values: Sequence[float]) -> bool:
    return all(not math.isnan(v) for v in values)
