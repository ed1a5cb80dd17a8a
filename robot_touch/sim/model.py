"""
The MuJoCo model of an arm profile: its URDF compiled, and servo-like position gains.

The model is compiled from the profile's URDF (the same description Gazebo loads). Each
actuator behaves like a hobby bus servo's position loop: stiff enough to hold the arm against
gravity, force limited to the URDF's ``effort``, critically damped (:func:`servo_gains`).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Sequence
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
from robot_touch.core.profile import ArmProfile, check_for_simulation, JointSpec
from robot_touch.errors import RobotTouchError
from robot_touch.sim.common import MAX_TIMESTEP

#: Static error each servo may show while holding the arm against gravity (rad; m if prismatic).
HOLD_ERROR_RAD = 0.004
HOLD_ERROR_M = 0.0005

#: Slowest servo response wanted (natural frequency of the position loop, rad/s).
MIN_BANDWIDTH = 40.0

#: Stiffest response the integrator resolves accurately: natural frequency × timestep.
MAX_OMEGA_DT = 0.25

#: Smallest reflected rotor inertia of a geared servo (kg m^2, or kg for prismatic), and the
#: least it adds relative to the links it drives: a hobby servo's gearbox (1:300 and more)
#: makes its rotor a noticeable part of what the joint has to accelerate.
MIN_ARMATURE = 1e-4
MIN_ARMATURE_FRACTION = 0.1


@dataclass(frozen=True)
class ServoGains:
    """
    Position-loop settings of one joint's actuator.

    :ivar kp: stiffness, N m/rad (N/m for prismatic joints).
    :ivar kv: damping, N m s/rad (N s/m).
    :ivar armature: reflected rotor inertia added to the joint, kg m^2 (kg).
    :ivar force_limit: largest actuator force, N m (N); ``inf`` = unlimited.
    """

    kp: float
    kv: float
    armature: float
    force_limit: float


def mujoco_urdf(profile: ArmProfile) -> str:
    """
    Return the profile's URDF, ready for MuJoCo's URDF compiler.

    The ``<ros2_control>`` and ``<gazebo>`` blocks are dropped (MuJoCo does not know them),
    and a ``<mujoco><compiler/>`` element keeps every link as its own body (``fusestatic``
    would merge the tool frame away) and keeps the visual geometry for rendering.
    """
    # ElementTree rather than text edits: xacro's banner comment is not valid for MuJoCo's
    # XML parser, and ElementTree drops comments.
    root = ET.fromstring(profile.urdf_xml())
    for tag in ('ros2_control', 'gazebo'):
        for element in root.findall(tag):
            root.remove(element)
    extension = ET.Element('mujoco')
    ET.SubElement(
        extension, 'compiler', discardvisual='false', fusestatic='false', strippath='false'
    )
    root.insert(0, extension)
    return ET.tostring(root, encoding='unicode')


def build_spec(profile: ArmProfile, timestep: float = MAX_TIMESTEP) -> mujoco.MjSpec:
    """
    Return an MjSpec of the arm on a floor, with gravity and a light, but no actuators yet.

    Self-collisions are off: the box primitives of neighbouring links overlap near the
    joints, and the teleop node never relies on the arm stopping on itself. The links do
    collide with the floor.
    """
    check_timestep(timestep)
    # A moving link without <inertial>: one clear error, not MuJoCo's.
    check_for_simulation(profile)
    try:
        spec = mujoco.MjSpec.from_string(mujoco_urdf(profile))
    except ValueError as exc:
        raise RobotTouchError(f'{profile.urdf_path}: MuJoCo cannot read the URDF: {exc}') from None
    spec.option.timestep = timestep
    spec.option.gravity = [0.0, 0.0, -9.81]
    # Implicit damping keeps the stiff, strongly damped servo loops stable at 2 ms.
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for geom in spec.geoms:
        if geom.contype or geom.conaffinity:  # a collision geom (the visual copies have 0/0)
            geom.contype, geom.conaffinity = 1, 0
            geom.group = 3  # hidden by default: the visual copy is drawn instead
    spec.worldbody.add_geom(
        name='floor',
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[1.0, 1.0, 0.05],
        rgba=[0.55, 0.6, 0.65, 1.0],
        contype=0,
        conaffinity=1,
    )
    spec.worldbody.add_light(pos=[0.4, -0.4, 1.2], dir=[-0.3, 0.3, -1.0], diffuse=[0.8, 0.8, 0.8])
    return spec


def check_timestep(timestep: float) -> None:
    """Raise ValueError unless 0 < ``timestep`` ≤ :data:`MAX_TIMESTEP` (s)."""
    if not (
        isinstance(timestep, (int, float))
        and math.isfinite(timestep)
        and 0.0 < timestep <= MAX_TIMESTEP
    ):
        raise ValueError(
            f'timestep must be in (0, {MAX_TIMESTEP}] s (at least 500 Hz of physics), '
            f'got {timestep!r}'
        )


def servo_gains(
    model: mujoco.MjModel,
    joint_ids: Sequence[int],
    specs: Sequence[JointSpec],
    force_limits: Sequence[float],
    kp: Sequence[float] | None = None,
    kv: Sequence[float] | None = None,
) -> list[ServoGains]:
    """
    Gains for each joint, derived from the links it moves (``kp``/``kv``: per-joint overrides).

    For every joint the largest gravity load (plus joint friction) and the largest inertia
    it sees over a deterministic sample of poses set the stiffness: enough to hold the load within
    :data:`HOLD_ERROR_RAD`, and at least a :data:`MIN_BANDWIDTH` response. Armature (the
    servo's geared rotor) is then added where the links alone are too light for that
    stiffness to be integrated accurately at the model's timestep, and the damping is
    chosen critical.
    """
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)  # the same gains on every run
    poses = [np.array([s.home for s in specs]), np.zeros(len(specs))]
    poses += [rng.uniform([s.lower for s in specs], [s.upper for s in specs]) for _ in range(64)]
    dofs = [int(model.jnt_dofadr[j]) for j in joint_ids]
    qadr = [int(model.jnt_qposadr[j]) for j in joint_ids]
    inertia = np.zeros(len(dofs))
    load = np.zeros(len(dofs))
    full = np.zeros((model.nv, model.nv))
    for pose in poses:
        data.qpos[qadr] = np.clip(pose, [s.lower for s in specs], [s.upper for s in specs])
        data.qvel[:] = 0.0
        mujoco.mj_forward(model, data)
        mujoco.mj_fullM(model, data, full)
        inertia = np.maximum(inertia, full[dofs, dofs] - model.dof_armature[dofs])
        load = np.maximum(load, np.abs(data.qfrc_bias[dofs]))  # gravity alone: qvel is 0
    # Dry friction in the joint resists the servo like a load does.
    load = load + model.dof_frictionloss[dofs]
    omega_max = MAX_OMEGA_DT / model.opt.timestep
    gains = []
    for i, (spec, link_inertia, joint_load, limit) in enumerate(
        zip(specs, inertia, load, force_limits)
    ):
        hold = HOLD_ERROR_M if spec.prismatic else HOLD_ERROR_RAD
        armature = max(MIN_ARMATURE, float(link_inertia) * MIN_ARMATURE_FRACTION)
        automatic = max(joint_load / hold, (link_inertia + armature) * MIN_BANDWIDTH**2)
        stiffness = kp[i] if kp and kp[i] > 0 else automatic
        armature = max(armature, stiffness / omega_max**2 - link_inertia)
        damping = (
            kv[i] if kv and kv[i] > 0 else 2.0 * math.sqrt(stiffness * (link_inertia + armature))
        )
        gains.append(
            ServoGains(
                kp=float(stiffness),
                kv=float(damping),
                armature=float(armature),
                force_limit=float(limit),
            )
        )
    return gains


def per_joint(values: Sequence[float] | None, count: int, what: str) -> list[float] | None:
    """
    Per-joint overrides: None/empty → None, one value → repeated, ``count`` values → as given.

    A 0 entry means "automatic" for that joint.
    """
    if values is None or len(values) == 0:
        return None
    values = [float(v) for v in values]
    if len(values) == 1:
        values = values * count
    if len(values) != count or not all(math.isfinite(v) and v >= 0 for v in values):
        raise ValueError(
            f'{what} must be one number ≥ 0 or {count} (one per joint; 0 = automatic), '
            f'got {values}'
        )
    return values if any(values) else None


__all__ = ['ServoGains', 'build_spec', 'check_timestep', 'mujoco_urdf', 'servo_gains']
