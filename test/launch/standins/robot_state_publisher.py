"""
Stand-in for robot_state_publisher.

Takes robot_description as a parameter, as the real node does, and publishes it on
``robot_description`` (transient local, like the real one) so ``ros_gz_sim create -topic
robot_description`` gets it; records both and stays up.
"""

import sys

import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile
from standin_record import Record, stay_up
from std_msgs.msg import String

record = Record('robot_state_publisher')
rclpy.init(args=sys.argv)
node = rclpy.create_node(
    'robot_state_publisher', automatically_declare_parameters_from_overrides=True
)
description = node.get_parameter_or('robot_description').value
publisher = node.create_publisher(
    String, 'robot_description', QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
)
if description:
    publisher.publish(String(data=description))
record.data.update(
    node=node.get_fully_qualified_name(),
    topic=publisher.topic_name,
    robot_description=description,
    use_sim_time=node.get_parameter('use_sim_time').value,
)
record.save()
# The publisher must stay alive for late subscribers; rclpy needs no spinning for that.
code = stay_up(record)
node.destroy_node()
rclpy.try_shutdown()
sys.exit(code)
