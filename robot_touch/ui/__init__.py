"""The Kivy touchscreen app (``app.py``, ``robot_touch.kv``, ``widgets/``) and its translations."""
