"""A virtual X display (Xvfb) for machines without a screen: the UI still runs and renders."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from robot_touch.errors import RobotTouchError


class DisplayError(RobotTouchError):
    """No display and no Xvfb to make one."""


def has_display() -> bool:
    """True when $DISPLAY (or Wayland) points somewhere."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Xvfb:
    """Start Xvfb on the first free display number; stop it on exit.

    Args:
        size: screen size "WIDTHxHEIGHT".
    """

    def __init__(self, size: str = "1280x800") -> None:
        self.size = size
        self.process: subprocess.Popen | None = None
        self.display = ""

    def __enter__(self) -> "Xvfb":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> str:
        """Start the server; returns the DISPLAY value (":N")."""
        binary = shutil.which("Xvfb")
        if binary is None:
            raise DisplayError("no display and no Xvfb: install it with `sudo apt-get install xvfb` (make run does)")
        for number in range(90, 190):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            proc = subprocess.Popen(
                [binary, f":{number}", "-screen", "0", f"{self.size}x24", "-nolisten", "tcp", "-noreset"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break  # lost a race for this number: try the next one
                if Path(f"/tmp/.X11-unix/X{number}").exists():
                    self.process, self.display = proc, f":{number}"
                    return self.display
                time.sleep(0.05)
            if proc.poll() is None:
                proc.kill()
        raise DisplayError("Xvfb did not start on any display number :90-:189")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
