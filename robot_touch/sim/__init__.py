"""
Physics simulation of the arms (MuJoCo), a Gazebo stand-in that runs on any machine.

The arm lives in :mod:`robot_touch.sim.mujoco_arm` (no ROS), built from
:mod:`~robot_touch.sim.model` (URDF compiled, servo gains), stepped in real time by
:mod:`~robot_touch.sim.runner`, drawn by :mod:`~robot_touch.sim.render`;
:mod:`~robot_touch.sim.common` holds what callers need without importing MuJoCo, and
:mod:`~robot_touch.sim.gl` chooses the OpenGL backend once, at the entry points.
``robot_touch.nodes.sim_arm`` puts it on the ros2_control topics.
"""
