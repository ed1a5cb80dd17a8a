"""
Physics simulation of the arms (MuJoCo), a Gazebo stand-in that runs on any machine.

The model building and stepping live in :mod:`robot_touch.sim.mujoco_arm` (no ROS);
``robot_touch.nodes.sim_arm`` puts it on the ros2_control topics.
"""
