"""
Issue 10's property: whatever happens, commanded AND measured motion stay within the limits.

Random sequences of targets, jogs, gripper moves, e-stops, enables, unplugs, silent servos
and replugs drive the pure cores in simulated time, wired as the nodes wire them: the teleop
core's commands go to the bridge core, the bridge core's goals go to emulated servos (the
virtual arm's own :class:`~robot_touch.virtual_arm.device.ServoModel`, in raw units), and the
servos' readings (rounded to whole steps, None while silent or unplugged) come back through
the bridge into teleop, NaN and all. The servos' true positions are the ground truth.

Checked on every cycle, across every latch and recovery:

* teleop's command stream: inside the position limits, no step past the per-cycle bound
  (velocity limit x period), acceleration inside its limit; after teleop was quiet (disabled,
  longer than the bridge's command timeout, so the bridge held the arm where it stood), the
  first command is where the arm is;
* the goals written to the servos and the servos' true positions: inside the position limits,
  velocity and acceleration inside theirs, allowing one servo step of quantisation on each
  position (the goals are whole steps);
* the tip above the floor: the true tip within :data:`FLOOR_SLACK` of it (the bridge's brake
  on a fault starts a cycle after teleop's last guarded step, from its own estimate of the
  motion), the commanded tip within the guard's tolerance, or no lower than the arm already
  is (a re-latch restarts from where the arm is).

One event is judged from both sides only: pulling the cable stops the servos on their last
goal at once (they hold it; no bridge can decelerate a servo it cannot reach), so the true
positions' acceleration is judged up to an unplug and again from it on, not across it.
"""

from __future__ import annotations

import math

from hypothesis import example, given, HealthCheck, settings
from hypothesis import strategies as st
import numpy as np
import pytest
from robot_touch.core.bridge_core import BridgeCore, build_converters, CommandRejected
from robot_touch.core.calibration import merge_calibration
from robot_touch.core.teleop_core import TeleopConfig, TeleopCore
from robot_touch.core.teleop_workspace import EDGE_TOLERANCE
from robot_touch.virtual_arm.arm import build_servos

DT = 0.01
FLOOR_SLACK = 2 * EDGE_TOLERANCE
WINDOW = 5  # cycles an acceleration is measured over (quantisation would swamp one cycle)


class SimulatedArm:
    """Teleop core → bridge core → servo models → bridge core → teleop core, every DT."""

    def __init__(self, profile, kin) -> None:
        self.profile = profile
        self.specs = list(profile.all_joints)
        self.names = [s.name for s in self.specs]
        self.teleop = TeleopCore(profile, TeleopConfig(rate=1 / DT), kinematics=kin)
        self.bridge = BridgeCore(
            build_converters(profile, merge_calibration(profile, None)),
            has_gripper=True,
            period=DT,
        )
        self.servos = build_servos(profile)
        self.plugged = True
        self.silent: set[int] = set()
        self.t = 0.0
        self.bridge.on_connected(self.t)
        self.commands: list[list[float] | None] = []  # per cycle (None: nothing published)
        self.goals: list[list[float] | None] = []  # per cycle (None: nothing written)
        self.truth: list[list[float]] = []  # per cycle
        self.unplugged_at: set[int] = set()  # cycles at which the cable was pulled

    def to_rad(self, spec, raw: float) -> float:
        return spec.calibration.to_joint(raw)

    def cycle(self) -> None:
        self.t = round(self.t + DT, 9)
        for servo in self.servos.values():
            servo.step(DT)
        self.truth.append([self.to_rad(s, self.servos[s.servo_id].position) for s in self.specs])
        written = None
        if self.plugged:
            raw = {
                s.servo_id: (
                    None if s.servo_id in self.silent else round(self.servos[s.servo_id].position)
                )
                for s in self.specs
            }
            reading = self.bridge.on_positions(raw, self.t)
            if reading is not None:
                self.teleop.on_joint_states(self.names, reading.positions, self.t, source='bridge')
            goals = self.bridge.goals(self.t)
            if goals:
                for sid, value in goals.items():
                    self.servos[sid].set_goal(value)
                written = [self.to_rad(s, goals[s.servo_id]) for s in self.specs]
        self.goals.append(written)
        cmd = self.teleop.step(self.t, DT)
        self.commands.append(None if cmd is None else cmd.as_list())
        if cmd is not None:
            try:
                self.bridge.submit_command(cmd.as_list(), self.t)
            except CommandRejected:
                pass

    def unplug(self) -> None:
        if self.plugged:
            self.plugged = False
            self.bridge.on_disconnected(self.t)
            self.unplugged_at.add(len(self.truth))
            # as the I/O worker does: every position is unknown from now on, said at once
            lost = self.bridge.readings.reading([False] * len(self.specs), self.t)
            self.teleop.on_joint_states(self.names, lost.positions, self.t, source='bridge')

    def replug(self) -> None:
        if not self.plugged:
            self.plugged = True
            self.bridge.on_connected(self.t)


unit = st.floats(-1.0, 1.0)
events = st.one_of(
    st.tuples(st.just('pose'), st.lists(unit, min_size=5, max_size=5)),
    st.tuples(st.just('joint_target'), st.lists(unit, min_size=5, max_size=5)),
    st.tuples(st.just('jog'), st.lists(unit, min_size=3, max_size=3)),
    st.tuples(st.just('joint_jog'), st.lists(st.floats(-3, 3), min_size=5, max_size=5)),
    st.tuples(st.just('gripper'), st.floats(0.0, 1.0)),
    st.tuples(st.just('estop'), st.booleans()),
    st.tuples(st.just('enable'), st.booleans()),
    st.tuples(st.just('unplug'), st.none()),
    st.tuples(st.just('replug'), st.none()),
    st.tuples(st.just('silence'), st.integers(0, 5)),
    st.tuples(st.just('answer'), st.none()),
)


def apply(arm: SimulatedArm, kin, kind: str, arg, first: bool) -> None:
    core, t = arm.teleop, arm.t
    lo, hi = np.array(arm.profile.lower), np.array(arm.profile.upper)
    if kind == 'jog':
        core.on_jog('base_link', np.array(arg) * 0.2, [0.0, 0.0, 0.0], now=t)  # repeated: a stream
    elif kind == 'joint_jog':
        core.on_joint_jog(arm.profile.joint_names, arg, now=t)
    elif not first:
        return
    elif kind == 'pose':
        T = kin.fk(lo + (np.array(arg) + 1) / 2 * (hi - lo))
        core.on_target_pose('base_link', T[:3, 3], [0.0, 0.0, 0.0, 1.0])
    elif kind == 'joint_target':
        core.on_joint_target(
            arm.profile.joint_names, lo + (np.array(arg) + 1) / 2 * (hi - lo)
        )
    elif kind == 'gripper':
        core.on_gripper(arg)
    elif kind == 'estop':
        core.set_estop(arg)
    elif kind == 'enable':
        core.set_enabled(arg)
    elif kind == 'unplug':
        arm.unplug()
    elif kind == 'replug':
        arm.replug()
    elif kind == 'silence':
        arm.silent = {arm.specs[arg].servo_id}
    elif kind == 'answer':
        arm.silent = set()


def check(arm: SimulatedArm, kin) -> None:
    lower = np.array([s.lower for s in arm.specs])
    upper = np.array([s.upper for s in arm.specs])
    vmax = np.array([s.velocity for s in arm.specs])
    amax = np.array([s.acceleration for s in arm.specs])
    step = np.array([1.0 / s.calibration.units_per_rad for s in arm.specs])

    def runs(rows, breaks=frozenset()):
        """Stretches of consecutive cycles with a value (split at ``breaks``)."""
        out, run = [], []
        for k, row in enumerate(rows):
            if k in breaks and run:
                out.append(np.array(run))
                run = []
            if row is None:
                if run:
                    out.append(np.array(run))
                run = []
            else:
                run.append(row)
        if run:
            out.append(np.array(run))
        return out

    # teleop's command stream: exact floats, judged cycle by cycle; after a quiet spell the
    # listener holds the arm where it stood, so the stream must start there
    published = [c for c in arm.commands if c is not None]
    if published:
        c = np.array(published)
        assert np.all(c >= lower - 1e-9) and np.all(c <= upper + 1e-9), (
            'command outside the joint limits'
        )
    quiet = round(arm.bridge.watchdog.timeout / DT)
    last, gap = None, 0
    for k, row in enumerate(arm.commands):
        if row is None:
            gap += 1
            continue
        if last is not None and gap < quiet:
            jump = np.abs(np.array(row) - last) / (vmax * DT * (gap + 1))
            assert np.all(jump <= 1 + 1e-6), f'command step {np.max(jump):.2f} x the bound'
        elif last is not None:
            restart = np.abs(np.array(row) - np.array(arm.truth[k]))
            assert np.all(restart <= 2 * step), (
                f'after a quiet spell the stream starts {np.max(restart):.3f} rad off the arm'
            )
        last, gap = np.array(row), 0
    true_z = np.array([kin.fk(row[:5])[2, 3] for row in arm.truth])
    assert true_z.min() >= -FLOOR_SLACK, (
        f'the tip went {1000 * -true_z.min():.1f} mm below the floor'
    )
    lowest = np.minimum.accumulate(true_z)  # how low the arm had been by each cycle
    for k, row in enumerate(arm.commands):
        if row is not None:
            z = kin.fk(row[:5])[2, 3]
            assert z >= min(-EDGE_TOLERANCE, lowest[k]) - 1e-6, (
                f'commanded tip {1000 * -z:.1f} mm below the floor'
            )
    for c in runs(arm.commands):
        acc = np.abs(np.diff(c, 2, axis=0))
        assert np.all(acc <= amax * DT**2 * (1 + 1e-6) + 1e-9), (
            f'command acceleration {np.max(acc / (amax * DT**2)):.2f} x'
        )
    # goals and true positions: one servo step of quantisation on each value
    for name, rows, breaks in (
        ('goal', arm.goals, set()),
        ('true position', arm.truth, arm.unplugged_at),
    ):
        for p in runs(rows, breaks):
            assert np.all(p >= lower - step) and np.all(p <= upper + step), (
                f'{name} outside the joint limits'
            )
            v = np.abs(np.diff(p, axis=0))
            assert np.all(v <= vmax * DT + 2 * step), (
                f'{name} velocity {np.max((v - 2 * step) / (vmax * DT)):.2f} x the limit'
            )
            if len(p) > 2 * WINDOW:
                a = np.abs(p[2 * WINDOW:] - 2 * p[WINDOW:-WINDOW] + p[:-2 * WINDOW])
                h2 = (WINDOW * DT) ** 2
                assert np.all(a <= amax * h2 + 4 * step), (
                    f'{name} acceleration {np.max((a - 4 * step) / (amax * h2)):.2f} x'
                )


@pytest.mark.timeout(120)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=st.lists(st.tuples(events, st.integers(1, 60)), min_size=3, max_size=10))
# Found by this test: a joint jog braking at the floor, then a silent servo. The bridge's
# fault brake assumed full deceleration on a joint creeping at a few mrad/s and turned it back
# 0.06 rad: the tip went 8.9 mm below the floor.
# And: a pose, then two servos silent in turn: the old brake's overshoot of full deceleration
# reached 1.38x the acceleration limit in the goals.
@example(
    sequence=[
        (('pose', [0.0, 0.0, 0.0, 0.25, 0.0]), 1),
        (('silence', 0), 26),
        (('silence', 1), 15),
    ]
)
@example(
    sequence=[
        (('answer', None), 1),
        (('joint_jog', [0.0, 1.75, 1.0, -1.0, 0.0]), 48),
        (('silence', 0), 16),
    ]
)
def test_every_fault_and_input_sequence_keeps_commanded_and_measured_motion_within_the_limits(
    so101, kin, sequence
):
    arm = SimulatedArm(so101, kin)
    for _ in range(5):
        arm.cycle()
    for (kind, arg), cycles in sequence:
        for i in range(cycles):
            apply(arm, kin, kind, arg, first=i == 0)
            arm.cycle()
    arm.replug()
    arm.silent = set()
    for _ in range(150):  # every fault cleared: it all settles, within the limits
        arm.cycle()
    check(arm, kin)
    assert not math.isnan(arm.truth[-1][0])
