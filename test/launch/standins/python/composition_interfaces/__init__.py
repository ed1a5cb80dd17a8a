"""
Import-only stand-in for the ROS 2 message package composition_interfaces (not on PyPI).

``launch_ros.actions`` imports ``composition_interfaces.srv`` for its composable-node
actions, which robot_touch's launch files do not use; loading a composable node with this
stand-in fails with a clear error.
"""
