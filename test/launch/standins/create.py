"""
Stand-in for ros_gz_sim ``create``.

Parses its flags like the real one (gflags style, ``-topic robot_description -name so101``), waits
for the model XML on the topic (transient local, in its own namespace, as the real node does),
records it and exits 0 as the real one does once the entity is spawned (1 if nothing came within
the timeout).
"""

import sys
import time

import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile
from standin_record import Record
from std_msgs.msg import String

# gflags of create.cpp (ros_gz_sim, Jazzy).
FLAGS = set('world file param string topic name allow_renaming x y z R P Y'.split())
TIMEOUT = 60.0

record = Record('create')
flags = {}
plain = record.data['args']
for i in range(0, len(plain), 2):
    key = plain[i].lstrip('-')
    if key not in FLAGS or i + 1 >= len(plain):
        print(f'create stand-in: unknown or incomplete flag {plain[i]!r}', file=sys.stderr)
        sys.exit(record.finish(2))
    flags[key] = plain[i + 1]
record.data['flags'] = flags
rclpy.init(args=sys.argv)
node = rclpy.create_node('ros_gz_sim')
received = []
qos = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
sub = node.create_subscription(
    String, flags.get('topic', ''), lambda m: received.append(m.data), qos
)
record.data['topic'] = sub.topic_name
deadline = time.monotonic() + TIMEOUT
while not received and time.monotonic() < deadline:
    rclpy.spin_once(node, timeout_sec=0.1)
record.data['xml'] = received[0] if received else None
node.destroy_node()
rclpy.try_shutdown()
sys.exit(record.finish(0 if received else 1))
