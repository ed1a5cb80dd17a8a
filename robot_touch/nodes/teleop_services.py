"""
The ``teleop`` node's services: home, e-stop, enable and free drive (teach by hand).

``teleop/home`` (std_srvs/Trigger), ``teleop/estop`` (std_srvs/SetBool, latched until
data=false), ``teleop/enable`` (std_srvs/SetBool). Every request is answered: the services keep
all requests and replies (:data:`SERVICE_QOS`: reliable, KEEP_ALL history; a client wanting
every reply in a burst should do the same), and they run in their own callback group on a
multi-threaded executor, so an e-stop is answered while an IK solve or a burst of targets
occupies the subscription callbacks.

``teleop/free_drive`` (std_srvs/SetBool): free drive (teach by hand) of the joints in the
parameter ``free_drive_joints`` (empty: every joint teleop commands), through the hardware's
``torque/<joint>`` services (:mod:`robot_touch.core.free_drive`: the arm brakes to rest, no
command is published while the joints are released, and leaving re-latches to the measured
joints). It runs in a third callback group and waits there for the hardware, so the e-stop is
answered meanwhile.

Each handler turns a request into a core call and the core's answer into the reply, then wakes
the control loop so the change takes effect now, not at the next tick.
"""
from __future__ import annotations

import threading
from typing import Callable

from rclpy.callback_groups import CallbackGroup, MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from robot_touch.core.free_drive import FreeDrive
from robot_touch.core.teleop_core import FreeDrivePhase, TeleopCore
from robot_touch.core.teleop_live_parameters import LiveParameters
from std_srvs.srv import SetBool, Trigger

#: Services keep every request and reply: a burst of e-stops is answered in full.
SERVICE_QOS = QoSProfile(history=HistoryPolicy.KEEP_ALL, reliability=ReliabilityPolicy.RELIABLE)


class TeleopServices:
    """
    Serve ``teleop/home``, ``teleop/estop``, ``teleop/enable`` and ``teleop/free_drive``.

    :param node: the teleop node (creates the services, logs).
    :param core: the teleop core.
    :param free_drive: the free-drive sequence.
    :param live: the live parameters (the ``free_drive_joints`` of the moment).
    :param group: the callback group of home, estop and enable.
    :param wake: runs a control cycle now.
    """

    def __init__(
        self,
        node: Node,
        core: TeleopCore,
        free_drive: FreeDrive,
        live: LiveParameters,
        group: CallbackGroup,
        wake: Callable[[], None],
    ) -> None:
        self._node = node
        self._core = core
        self._free_drive = free_drive
        self._live = live
        self._wake = wake
        for srv_type, name, handler in (
            (Trigger, 'teleop/home', self._srv_home),
            (SetBool, 'teleop/estop', self._srv_estop),
            (SetBool, 'teleop/enable', self._srv_enable),
        ):
            node.create_service(
                srv_type, name, handler, qos_profile=SERVICE_QOS, callback_group=group
            )
        node.create_service(
            SetBool,
            'teleop/free_drive',
            self._srv_free_drive,
            qos_profile=SERVICE_QOS,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )

    def _srv_home(self, _req: Trigger.Request, res: Trigger.Response) -> Trigger.Response:
        res.success, res.message = self._core.home()
        self._wake()
        return res

    def _srv_estop(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        res.success, res.message = self._core.set_estop(bool(req.data))
        self._wake()  # takes effect now, not at the next tick
        if req.data:
            self._node.get_logger().warning('e-stop latched')
            if self._core.free_drive_state()[0] != FreeDrivePhase.OFF:
                # the profile's policy (hold: torque back on where the arm is); it waits for
                # the hardware, so off this thread: the e-stop is answered now
                threading.Thread(
                    target=self._free_drive.estop_latched, name='free_drive_estop', daemon=True
                ).start()
                res.message += f'; free drive: {self._free_drive.estop_policy} (arm profile)'
        return res

    def _srv_free_drive(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        if req.data:
            res.success, res.message = self._free_drive.enter(self._live.free_drive_joints)
        else:
            res.success, res.message = self._free_drive.leave()
        self._wake()
        line = res.message  # it says what happened ("free drive: ... released", "... refused")
        if res.success:  # one call site per severity (rclpy requires it)
            self._node.get_logger().info(line)
        else:
            self._node.get_logger().warning(line)
        return res

    def _srv_enable(self, req: SetBool.Request, res: SetBool.Response) -> SetBool.Response:
        res.success, res.message = self._core.set_enabled(bool(req.data))
        self._wake()
        return res
