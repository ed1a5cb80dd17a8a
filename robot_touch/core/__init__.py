"""Pure-Python core: no rclpy or Kivy import anywhere below this package."""
