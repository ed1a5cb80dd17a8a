"""
Teach by hand through the touchscreen, under Xvfb, with the real parts.

The UI's touches → teleop → the serial bridge → the virtual SO-101 on a pty (in this process),
whose hand moves the released joints. Ground truth is the emulator's servo state.

Tap Free drive → move two joints by hand → the views and joint readouts follow → long-press
and Add save the measured pose → tap Free drive off → the command stream starts at the true
pose → Play all reaches each taught pose within one servo step; the gripper alone; a refusal
shown with teleop's reason.

(Named to run after test_with_teleop: that test drags as soon as its teleop reports, and a
drag published while the UI's publisher has not yet matched the new teleop is lost, which
happened when this test's teleop had ended just before.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

pytestmark = [pytest.mark.ui, pytest.mark.ros]

HAND_SPEED = 4.0  # rad/s


@pytest.fixture
def real_arm(ui, tmp_path):
    """Provide the teleop stand-in is replaced by teleop, the serial bridge and a virtual arm."""
    from robot_touch.virtual_arm.server import VirtualArm

    ui.peer.stop()
    link = tmp_path / 'ttyARM'
    env = {**os.environ, 'ROBOT_TOUCH_DATA': str(tmp_path / 'data')}
    arm = VirtualArm(ui.app.profile, link=link)
    arm.start()
    procs = []
    try:
        for name, params in (
            ('serial_bridge', ['arm:=so101', f'port:={link}']),
            ('teleop', ['arm:=so101']),
        ):
            argv = [sys.executable, '-m', f'robot_touch.nodes.{name}', '--ros-args']
            procs.append(
                subprocess.Popen(
                    argv + [a for p in params for a in ('-p', p)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        ui.wait_for(
            lambda: (
                ui.node.latest_status_values().get('free_drive') == ''
                and ui.node.latest_status()[0] == 'ok'
                and ui.node.cli_free_drive.service_is_ready()
            ),
            60,
            'teleop and the bridge up',
        )
        yield arm
    finally:
        ui.end_real_nodes(procs)  # the bridge first, then its arm
        arm.stop()


class Commands:
    """Teleop's commands to the arm, as they go out (a subscription of the UI's own node)."""

    def __init__(self, node) -> None:
        from std_msgs.msg import Float64MultiArray

        self.node, self.items, self._lock = node, [], threading.Lock()
        self.sub = node.create_subscription(
            Float64MultiArray, 'forward_position_controller/commands', self._on, 100
        )

    def _on(self, msg) -> None:
        with self._lock:
            self.items.append(np.array(msg.data))

    def __len__(self) -> int:
        with self._lock:
            return len(self.items)

    def __getitem__(self, i: int) -> np.ndarray:
        with self._lock:
            return self.items[i]

    def close(self) -> None:
        self.node.destroy_subscription(self.sub)


@pytest.mark.timeout(150)
def test_teach_by_hand_from_the_touchscreen(ui, real_arm):
    h, arm, app = ui, real_arm, ui.app
    profile = app.profile
    names = [s.name for s in profile.all_joints]
    step = (1.0 + 1e-9) / profile.joints[0].calibration.units_per_rad  # one step, float rounding

    def truth() -> np.ndarray:
        state = arm.hand.state()
        return np.array([state[n]['position'] for n in names])

    def shown() -> np.ndarray:
        return np.array([app.joints[n] for n in profile.joint_names] + [app.gripper_position])

    app.set_language('en')
    app.set_mode('joint')
    app.waypoints.clear()
    app._sync_waypoints(select='')
    commands = Commands(h.node)
    box = app.free_drive_box
    toggle, scope, warning = box.ids.toggle, box.ids.scope, box.ids.warning
    try:
        assert scope.text == 'Whole arm' and not warning.bold
        h.tap(toggle)
        h.wait_for(lambda: h.node.latest_status()[0] == 'free_drive', 10, 'teleop in free drive')
        h.wait_for(
            lambda: not any(s['torque'] for s in arm.hand.state().values()), 10, 'torque off'
        )
        h.wait_for(
            lambda: toggle.state == 'down' and warning.bold and scope.disabled,
            5,
            'Free drive shown on',
        )
        assert 'Free drive' in h.ids.status.text
        assert all(s.disabled for s in app.sliders.values())  # readouts, not controls, now
        h.settle(0.3)
        sent = len(commands)

        # two joints by hand; the readouts and the views follow; long-press saves the pose
        arm.hand.move('shoulder_pan', -0.4, speed=HAND_SPEED)
        arm.hand.move('elbow_flex', 0.9, speed=HAND_SPEED)
        arm.hand.move('shoulder_lift', -0.5, speed=HAND_SPEED)
        h.wait_for(
            lambda: np.max(np.abs(shown() - truth())) <= step, 5, "the UI at the hand's pose"
        )
        assert app.sliders['elbow_flex'].value == pytest.approx(app.joints['elbow_flex'])
        before, tip = truth(), app.current_pose().position
        f = h.finger(*h.ids.side_view.center).down()
        h.wait_for(lambda: len(app.waypoints) == 1, 5, 'a waypoint from the long press')
        f.up()
        h.pump()
        assert np.max(np.abs(truth() - before)) <= step  # the press moved nothing (true servos)
        # The views follow the readings: one servo step off at most (~0.4 mm at the tip).
        assert np.linalg.norm(app.current_pose().position - tip) < 1e-3
        taught = [truth()]
        # a second pose, saved with Add in the Waypoints panel
        arm.hand.move('shoulder_pan', 0.2, speed=HAND_SPEED)
        arm.hand.move('wrist_flex', 0.6, speed=HAND_SPEED)
        h.wait_for(
            lambda: np.max(np.abs(shown() - truth())) <= step, 5, 'the UI at the second pose'
        )
        h.tap(h.ids.mode_waypoints)
        h.tap(h.ids.wp_add)
        assert app.waypoint_names == ['P1', 'P2']
        taught.append(truth())
        for wp, true in zip(app.waypoints, taught):
            got = np.array([wp.joints[n] for n in profile.joint_names])
            assert np.max(np.abs(got - true[:5])) <= step, wp.name  # the measured pose
        assert len(commands) == sent, 'nothing commanded while the arm was moved by hand'

        # leave: the stream starts at the true pose, and stays there
        before = truth()
        h.tap(toggle)
        h.wait_for(
            lambda: len(commands) > sent and h.node.latest_status()[0] == 'ok',
            10,
            'commands again',
        )
        assert all(s['torque'] for s in arm.hand.state().values())
        assert np.max(np.abs(commands[sent] - before)) <= step
        h.settle(0.5)
        assert np.max(np.abs(commands[len(commands) - 1] - commands[sent])) == 0.0
        assert np.max(np.abs(truth() - before)) <= step
        h.wait_for(
            lambda: toggle.state == 'normal' and not scope.disabled, 5, 'Free drive shown off'
        )

        # play the taught poses back: each reached within one servo step
        h.tap(h.ids.wp_play_all)
        for wp, true in zip(app.waypoints, taught):
            try:
                h.wait_for(lambda: np.max(np.abs(truth()[:5] - true[:5])) <= step, 20, wp.name)
            except AssertionError:
                status = h.node.latest_status(), h.node.latest_status_values().get('detail')
                raise AssertionError(
                    f'{wp.name} not reached: {truth() - true}; {status}'
                ) from None
        h.wait_for(lambda: not app.playing, 10, "the playback's end")

        # the gripper alone, chosen in the scope list; the arm holds meanwhile
        h.tap(scope)
        option = h.wait_for(
            lambda: next(
                (c for c in scope._dropdown.container.children if c.text == 'Gripper'), None
            ),
            5,
            'the scope list',
        )
        h.tap(option)
        assert app.free_drive_scope == 'gripper' and scope.text == 'Gripper'
        h.wait_for(lambda: scope._dropdown.parent is None, 5, 'the list closed')  # after 0.1 s
        h.tap(toggle)
        h.wait_for(
            lambda: h.node.latest_status_values().get('free_drive') == 'gripper',
            10,
            'the gripper released',
        )
        torque = {n: s['torque'] for n, s in arm.hand.state().items()}
        assert not torque['gripper'] and all(torque[n] for n in profile.joint_names)
        arm.hand.move('gripper', 0.7, speed=HAND_SPEED)
        h.tap(toggle)
        h.wait_for(
            lambda: (
                h.node.latest_status_values().get('free_drive') == ''
                and arm.hand.state()['gripper']['torque']
            ),
            10,
            'the gripper held',
        )
        assert truth()[5] == pytest.approx(0.7, abs=step)

        # refused while the e-stop is latched: the answer says why
        h.tap(h.ids.estop)
        h.wait_for(lambda: h.node.latest_status()[0] == 'estop', 5, 'e-stopped')
        app.message = ''
        h.tap(toggle)
        h.wait_for(lambda: app.message, 10, 'the refusal shown')
        assert app.message == 'Free drive refused: e-stop latched: release it first'
        h.wait_for(lambda: toggle.state == 'normal', 5, 'the toggle back off')
    finally:
        commands.close()
        app.set_mode('cartesian')
        app.waypoints.clear()
        app._sync_waypoints(select='')
        app.free_drive_scope = 'all'
        if h.ids.estop.latched:
            f = h.finger(*h.center(h.ids.estop)).down()
            h.wait_for(lambda: not h.ids.estop.latched, 5, 'the e-stop released')
            f.up()
            h.pump()
