"""
robot_touch: drive a robot arm from a touchscreen with ROS 2.

Layers (see docs/architecture.md): ``core`` (pure Python: profiles, kinematics, motion,
gestures, calibration), ``protocols`` (servo bus codecs and backends), ``virtual_arm``
(protocol emulators on a pty), ``nodes`` (thin rclpy adapters), ``ui`` (Kivy), ``cli``.
"""

__version__ = '0.1.0'
