"""
Where robot_touch's installed data (urdf/, config/, launch/) and the user's files live.

The same code runs from a source checkout, a `pip install -e`, a plain `pip install`
(data under <prefix>/share/robot_touch) and a colcon install (found through the ament index).
"""

from __future__ import annotations

import os
from pathlib import Path
import sys

PACKAGE = 'robot_touch'


def share_dir() -> Path:
    """
    Return the folder that holds urdf/, config/ and launch/.

    Order: $ROBOT_TOUCH_SHARE, the source checkout next to this module, <sys.prefix>/share,
    then the ament index (colcon or apt installs).
    """
    override = os.environ.get('ROBOT_TOUCH_SHARE')
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / 'package.xml').is_file() and (checkout / 'config').is_dir():
        return checkout
    prefixed = Path(sys.prefix) / 'share' / PACKAGE
    if (prefixed / 'config').is_dir():
        return prefixed
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # ament_index is optional; any failure means "not there"
        pass
    raise FileNotFoundError(
        'robot_touch data (urdf/, config/) not found: set ROBOT_TOUCH_SHARE to the folder '
        'that holds them, or reinstall the package'
    )


def user_data_dir() -> Path:
    """Return the user's writable folder for calibration, waypoints and logs (XDG data home)."""
    base = os.environ.get('ROBOT_TOUCH_DATA') or os.path.join(
        os.environ.get('XDG_DATA_HOME') or os.path.expanduser('~/.local/share'), PACKAGE
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path
