"""Thin rclpy nodes: translate messages to and from core objects, nothing more."""
