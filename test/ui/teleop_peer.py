"""
Stand-in for the teleop side, run as a separate process by the UI tests.

A node called ``teleop`` (so ``teleop/set_parameters`` exists) that
- prints every ``target_pose``, ``jog``, ``joint_target``, ``gripper`` message, service call
  and ``speed_override`` change as one JSON line on stdout;
- publishes ``joint_states`` at 50 Hz, jumping straight to each ``joint_target`` (enough to
  let waypoint playback advance) and ``teleop/status`` (code set from stdin);
- reads JSON commands on stdin: {"status": "clamped"}, {"joints": {"shoulder_pan": 0.3}}.

Usage: python teleop_peer.py JOINT_NAME...
"""

from __future__ import annotations

import json
import sys
import threading

from diagnostic_msgs.msg import DiagnosticStatus
from geometry_msgs.msg import PoseStamped, TwistStamped
from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64
from std_srvs.srv import SetBool, Trigger

_print_lock = threading.Lock()


def emit(kind: str, **data) -> None:
    with _print_lock:
        print(json.dumps({'kind': kind, **data}), flush=True)


class Peer(Node):
    def __init__(self, joint_names: list[str]) -> None:
        super().__init__('teleop')
        self.joints = dict.fromkeys(joint_names, 0.0)
        self.status = 'ok'
        self.lock = threading.Lock()
        self.declare_parameter('speed_override', 1.0)
        self.add_on_set_parameters_callback(self._on_params)
        self.create_subscription(PoseStamped, 'target_pose', self._on_target, 100)
        self.create_subscription(TwistStamped, 'jog', self._on_jog, 100)
        self.create_subscription(JointState, 'joint_target', self._on_joint_target, 100)
        self.create_subscription(Float64, 'gripper', lambda m: emit('gripper', value=m.data), 100)
        self.create_service(SetBool, 'teleop/estop', self._srv('estop'))
        self.create_service(SetBool, 'teleop/enable', self._srv('enable'))
        self.create_service(Trigger, 'teleop/home', self._on_home)
        self.pub_js = self.create_publisher(JointState, 'joint_states', 10)
        self.pub_status = self.create_publisher(DiagnosticStatus, 'teleop/status', 10)
        self.create_timer(0.02, self._tick)
        emit('ready')

    def _on_params(self, params) -> SetParametersResult:
        for p in params:
            emit('param', name=p.name, value=p.value)
        return SetParametersResult(successful=True)

    def _on_target(self, m: PoseStamped) -> None:
        p, o = m.pose.position, m.pose.orientation
        emit('target_pose', frame=m.header.frame_id, p=[p.x, p.y, p.z], q=[o.x, o.y, o.z, o.w])

    def _on_jog(self, m: TwistStamped) -> None:
        emit('jog', linear=[m.twist.linear.x, m.twist.linear.y, m.twist.linear.z])

    def _on_joint_target(self, m: JointState) -> None:
        with self.lock:
            for n, v in zip(m.name, m.position):
                self.joints[n] = v
        emit('joint_target', names=list(m.name), positions=list(m.position))

    def _srv(self, name: str):
        def handler(req, res):
            emit(name, data=req.data)
            res.success = True
            return res

        return handler

    def _on_home(self, req, res):
        emit('home')
        res.success = True
        return res

    def _tick(self) -> None:
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        with self.lock:
            msg.name = list(self.joints)
            msg.position = list(self.joints.values())
            status = self.status
        self.pub_js.publish(msg)
        self.pub_status.publish(DiagnosticStatus(name='teleop', message=status))

    def command(self, line: str) -> None:
        cmd = json.loads(line)
        with self.lock:
            if 'status' in cmd:
                self.status = cmd['status']
            for n, v in cmd.get('joints', {}).items():
                self.joints[n] = v
        emit('ack', **cmd)


def main() -> None:
    rclpy.init()
    node = Peer(sys.argv[1:])

    def read_commands() -> None:
        for line in sys.stdin:
            if line.strip():
                node.command(line)
        # stdin closed: the test process is gone, so is our reason to run.
        rclpy.try_shutdown()

    threading.Thread(target=read_commands, daemon=True).start()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass


if __name__ == '__main__':
    main()
