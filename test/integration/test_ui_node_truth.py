"""
The touch UI's node tells the truth.

The "Commands" rate counts what reaches the arm (not what the UI sends), and every service answer
comes back to be shown, a refusal included (Home while e-stopped, from the real teleop node).
"""

from __future__ import annotations

import time
import uuid

import pytest
from support.processes import RosProbe, spawn_node, terminate
from support.waiting import wait_for

pytestmark = pytest.mark.ros


@pytest.fixture
def ui_node():
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from robot_touch.nodes.touch_ui import TouchUiNode

    namespace = f'ui_{uuid.uuid4().hex[:6]}'
    context = Context()
    rclpy.init(context=context)
    node = TouchUiNode(context=context, namespace=namespace)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    import threading

    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield node, namespace
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(timeout=2.0)


@pytest.mark.timeout(60)
def test_commands_rate_counts_what_reaches_the_arm_not_what_the_ui_sends(ui_node) -> None:
    from robot_touch.core.workspace_view import Pose
    from std_msgs.msg import Float64MultiArray

    node, namespace = ui_node
    for _ in range(30):  # the UI's own sends: not commands to the arm
        node.publish_target(Pose.from_matrix(__import__('numpy').eye(4)))
    assert node.command_rate() == 0.0
    probe = RosProbe('fake_teleop', namespace=namespace)
    try:
        pub = probe.publisher(Float64MultiArray, 'forward_position_controller/commands')
        wait_for(lambda: pub.get_subscription_count() > 0, 10, 'the UI to subscribe')
        start = time.monotonic()
        while time.monotonic() - start < 1.5:  # 50 Hz
            pub.publish(Float64MultiArray(data=[0.0] * 6))
            time.sleep(0.02)
        assert 35 <= node.command_rate() <= 55
    finally:
        probe.close()


@pytest.mark.timeout(90)
def test_home_while_e_stopped_comes_back_refused_with_teleops_reason(ui_node) -> None:
    node, namespace = ui_node
    teleop = spawn_node('robot_touch.nodes.teleop', 'teleop', namespace=namespace)
    try:
        wait_for(
            lambda: node.cli_home.service_is_ready() and node.cli_estop.service_is_ready(),
            30,
            "teleop's services",
        )
        assert node.call_estop(True)
        answers = wait_for(lambda: node.take_answers(), 10, 'the e-stop answer')
        assert [(a.service.split('/')[-1], a.success) for a in answers] == [('estop', True)]
        assert node.call_home()
        answers = wait_for(lambda: node.take_answers(), 10, 'the home answer')
    finally:
        terminate(teleop)
    assert len(answers) == 1
    home = answers[0]
    assert home.service.endswith('teleop/home') and not home.success
    assert 'e-stop' in home.message


def test_an_unanswered_call_is_reported(ui_node) -> None:
    """A server that never answers is reported after the timeout, not dropped."""

    class Never:
        def done(self) -> bool:
            return False

        def cancel(self) -> None:
            pass

    node, _ns = ui_node
    node._calls.add('/x/teleop/home', time.monotonic() - 10.0, Never())
    answers = node.take_answers(timeout=3.0)
    assert [(a.service, a.success, a.message) for a in answers] == [
        ('/x/teleop/home', False, 'no answer within 3 s')
    ]
