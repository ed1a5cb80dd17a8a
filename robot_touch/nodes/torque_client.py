"""
The hardware's torque for teleop's free drive.

The ``torque/<joint>`` services (std_srvs/SetBool) of the serial bridge or the MuJoCo sim, called
from a node.

A :class:`~robot_touch.core.free_drive.TorqueSwitch` over rclpy clients: the calls go out
together and are waited for here (from a service callback running in its own callback group
on a multi-threaded executor; the answers arrive through the clients' reentrant group).
"""

from __future__ import annotations

import threading
import time
from typing import Sequence

from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import SetBool

#: seconds to wait for the hardware's answers (the bridge waits up to 1 s per joint for its
#: servos, one joint after the other)
ANSWER_TIMEOUT = 8.0
#: seconds to wait for a torque service to be discovered before saying there is none
DISCOVERY_WAIT = 2.0

UNSUPPORTED = (
    "the arm's hardware offers no {service} service, so it cannot release joints "
    "(Gazebo's ros2_control controllers have no torque switch: free drive needs the serial "
    'bridge or the MuJoCo sim)'
)


class TorqueServices:
    """``torque/<joint>`` clients of ``node`` for ``joints`` (relative names)."""

    def __init__(self, node: Node, joints: Sequence[str]) -> None:
        group = ReentrantCallbackGroup()
        self._clients = {
            j: node.create_client(SetBool, f'torque/{j}', callback_group=group) for j in joints
        }

    def missing(self, joints: Sequence[str]) -> str | None:
        """Why these joints' torque cannot be switched: a service nobody offers."""
        for joint in joints:
            client = self._clients.get(joint)
            if client is None or not client.wait_for_service(timeout_sec=DISCOVERY_WAIT):
                return UNSUPPORTED.format(service=f'torque/{joint}')
        return None

    def switch(self, joints: Sequence[str], on: bool) -> list[tuple[str, bool, str]]:
        """Call every joint's service at once; (joint, success, message) for each."""
        done = threading.Semaphore(0)
        futures = []
        for joint in joints:
            future = self._clients[joint].call_async(SetBool.Request(data=on))
            future.add_done_callback(lambda _f: done.release())
            futures.append((joint, future))
        deadline = time.monotonic() + ANSWER_TIMEOUT
        for _ in futures:
            if not done.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
        results = []
        for joint, future in futures:
            if not future.done():
                future.cancel()
                results.append((joint, False, f'no answer within {ANSWER_TIMEOUT:g} s'))
            elif future.exception() is not None or future.result() is None:
                results.append((joint, False, str(future.exception() or 'no answer')))
            else:
                reply = future.result()
                results.append((joint, bool(reply.success), str(reply.message)))
        return results
