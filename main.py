"""
Entry point of the Android package built by buildozer (buildozer.spec).

Python-for-android starts ``main.py`` in the source folder. On a PC use ``robot-touch-tablet``
instead.
"""

from robot_touch.tablet.main import main

main([])
