"""Kivy widgets of the touch UI."""
