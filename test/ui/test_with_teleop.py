"""
End to end with the real parts.

The UI → the teleop node (IK, smoothing) → the MuJoCo arm (sim_arm) → joint_states → the UI's
drawing. Each node in its own process.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.ui, pytest.mark.ros]


@pytest.fixture
def teleop(ui):
    """Provide the stand-in peer is replaced by the real teleop and sim_arm nodes for one test."""
    ui.peer.stop()
    procs = [
        subprocess.Popen(
            [sys.executable, '-m', f'robot_touch.nodes.{name}', '--ros-args', '-p', 'arm:=so101'],
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ('sim_arm', 'teleop')
    ]
    try:
        # The stand-in never sends status values: these come from the real teleop node.
        ui.wait_for(
            lambda: (
                ui.node.latest_status_values().get('enabled') == 'true'
                and ui.node.latest_status()[0] not in ('no_joint_states',)
                and ui.node.cli_estop.service_is_ready()
            ),
            40,
            'teleop and sim_arm up',
        )
        yield procs
    finally:
        ui.end_real_nodes(procs)


@pytest.mark.timeout(90)
def test_drag_moves_the_simulated_arm_and_estop_holds_it(ui, teleop):
    h = ui
    h.app.set_language('en')
    h.app.set_mode('cartesian')
    h.app.target = None
    # The UI shows the teleop's own state: enabled at start (start_enabled: true).
    h.wait_for(lambda: h.ids.enable_slot.children[0].state == 'down', 5, 'Enable shown on')
    start = h.app.current_pose().position.copy()
    view = h.ids.top_view
    x0, y0 = view.center
    f = h.finger(x0, y0).down()
    for i in range(1, 21):
        f.move_to(x0 - 2 * i, y0 + 2 * i)  # 4 cm back, 4 cm left at the usual scale
        h.pump()
    f.up()
    target = h.wait_for(lambda: h.app.target, 5, 'a target').position.copy()
    assert np.linalg.norm(target - start) > 0.02
    # The simulated arm gets there, and the UI draws it there.
    h.wait_for(
        lambda: np.linalg.norm(h.app.current_pose().position - target) < 0.005,
        20,
        'the arm at the target',
    )
    assert h.app.target_state == 'ok'
    assert 'Connected' in h.ids.status.text

    h.tap(h.ids.estop)
    h.wait_for(lambda: h.node.latest_status()[0] == 'estop', 5, 'teleop e-stopped')
    assert 'E-STOP active' in h.ids.status.text
    f = h.finger(*h.center(h.ids.estop)).down()
    h.wait_for(lambda: not h.ids.estop.latched, 5, 'the hold release')
    f.up()
    h.wait_for(lambda: h.node.latest_status()[0] != 'estop', 5, 'teleop released')
    h.settle(0.7)  # a status already on its way must not latch the button again
    assert not h.ids.estop.latched
