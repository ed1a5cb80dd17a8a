"""
Forward and inverse kinematics of an arm profile, on roboticstoolbox-python's C++ solvers.

The profile's URDF (``profile.urdf_xml()``) is read by rtb into a ``Robot``; the chain
``base_link → tip_link`` becomes one compiled ETS whose C handle is called directly
(``IK_LM_c``, ``ETS_fkine``, ``ETS_jacob0``) so that a tracking solve costs a few
microseconds plus a little Python.

Modules, by concern:

* :mod:`.arm`: :class:`ArmKinematics`, the facade (FK, IK, Jacobian, condition, reach) and
  the seeded IK search, the hot path.
* :mod:`.poses`: pose validation, quaternions, pose errors.
* :mod:`.projection`: targets of arms with fewer than 6 joints projected onto what they can
  reach.
* :mod:`.search`: restarts and the nearest reachable pose, when the seeded search fails.
* :mod:`.limits`: joint limits (clipping, whole turns back inside).
* :mod:`.reach`: the arm's reach.
* :mod:`.result`: :class:`IKResult`, the tolerances and the solver's constants.
* :mod:`.rtb_adapter`: every call into rtb's private API, named and locked.

Every name importable from ``robot_touch.core.kinematics`` before the split still is.
"""

from robot_touch.core.kinematics.arm import ArmKinematics
from robot_touch.core.kinematics.poses import ORTHONORMAL_DRIFT, pose_from_xyz_quat, validate_pose
from robot_touch.core.kinematics.result import (
    BRANCH_JUMP,
    CLIPPED_STARTS,
    IKResult,
    ITERATIONS,
    LIMIT_MARGIN,
    NEAREST_ROTATION_WEIGHT,
    POSITION_TOLERANCE,
    REASONS,
    RESTARTS,
    ROTATION_TOLERANCE,
    SMALL_MOVE,
    SOLVER_TOL,
)

__all__ = [
    'ArmKinematics',
    'BRANCH_JUMP',
    'CLIPPED_STARTS',
    'IKResult',
    'ITERATIONS',
    'LIMIT_MARGIN',
    'NEAREST_ROTATION_WEIGHT',
    'ORTHONORMAL_DRIFT',
    'pose_from_xyz_quat',
    'POSITION_TOLERANCE',
    'REASONS',
    'RESTARTS',
    'ROTATION_TOLERANCE',
    'SMALL_MOVE',
    'SOLVER_TOL',
    'validate_pose',
]
