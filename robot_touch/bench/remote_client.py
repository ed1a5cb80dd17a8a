"""
The tablet's side of `robot-touch bench remote`, in a process of its own.

For the namespace run it lives in the client's network namespace: the tablet app's backend
(:class:`~robot_touch.tablet.backend.RemoteBackend`, roslibpy) driven by lines on stdin.

    pose X Y Z     publish a target as the app does on a drag; prints "SENT <monotonic s>"
    jog N HZ       N zero jog messages at HZ (the gateway's CPU per message); prints "DONE"
    quit

Prints "READY" once connected and holding control. No rclpy.
"""

from __future__ import annotations

import sys
import time

import numpy as np


class _Pose:
    def __init__(self, xyz: list[float]) -> None:
        self.position = np.array(xyz, dtype=float)

    @staticmethod
    def quaternion() -> tuple[float, float, float, float]:
        return (0.0, 0.0, 0.0, 1.0)


def main() -> int:
    from robot_touch.tablet.backend import RemoteBackend

    url, token, fingerprint, base_link = sys.argv[1:5]
    backend = RemoteBackend(url, token, fingerprint or None, take_control=True)
    backend.base_link = base_link
    backend.start()
    deadline = time.monotonic() + 30
    while not backend.can_move() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not backend.can_move():
        print(f'FAILED {backend.link_state()}', flush=True)
        return 1
    print('READY', flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == 'quit':
            break
        if parts[0] == 'pose':
            pose = _Pose([float(v) for v in parts[1:4]])
            t = time.monotonic()
            backend.publish_target(pose)
            print(f'SENT {t:.9f}', flush=True)
        elif parts[0] == 'jog':
            count, rate = int(parts[1]), float(parts[2])
            start = time.monotonic()
            for i in range(count):
                backend.publish_jog((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
                time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
            print('DONE', flush=True)
    backend.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
