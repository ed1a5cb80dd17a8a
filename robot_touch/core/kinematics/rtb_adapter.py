"""
The one place robot_touch calls roboticstoolbox-python's private API.

Why private: rtb's public solvers (``ETS.ik_LM``, ``ETS.fkine``, ``ETS.jacob0``) check and
convert their arguments and wrap the answer in objects on every call (``SE3``, ``IKSolution``),
which costs tens of microseconds; the teleop loop solves IK on every touch event and needs a
tracking solve in ~10 µs. So the compiled chain's C handle (``ETS._fknm``) is passed straight to
the C++ functions of ``roboticstoolbox._fknm_c`` (``IK_LM_c``, ``ETS_fkine``, ``ETS_jacob0``),
exactly as rtb's own ``ETS.ik_LM`` / ``fknm.py`` facade do, but without the conversions.

Checked against roboticstoolbox-python 1.5.0 (:data:`CHECKED_RTB_VERSION`; the version is
bounded ``<1.6`` in setup.py). The functions are nanobind bindings with positional-only
arguments; :class:`CompiledChain` gives them names. ``test/unit/test_rtb_adapter.py`` checks
the whole surface used here (names, arguments, shapes and values on a known pose) and names
what changed when an upgrade breaks it.

Threads: the C functions do not release the GIL in 1.5.0 (the extension never calls
``PyEval_SaveThread``), but nothing in rtb promises that, and the handle is one C object. So
every call into the extension goes through :class:`CompiledChain`, which holds its own lock
for the duration of that call only (a few µs): calls on one chain never overlap, whatever a
future rtb does with the GIL, and a long IK search (many calls) still interleaves with other
threads' FK and Jacobians.
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
from robot_touch.core.profile import ArmProfile
from robot_touch.errors import ProfileError

#: The roboticstoolbox-python version the private surface below was checked against.
CHECKED_RTB_VERSION = '1.5.0'

#: rtb's Levenberg–Marquardt damping: "chan" (Chan and Lawrence, 1988), rtb's default.
LM_METHOD = 'chan'


def _c_functions() -> tuple[Any, Any, Any]:
    """Return rtb's private C functions (ETS_fkine, ETS_jacob0, IK_LM_c)."""
    from roboticstoolbox._fknm_c import ETS_fkine, ETS_jacob0, IK_LM_c

    return ETS_fkine, ETS_jacob0, IK_LM_c


class CompiledChain:
    """
    A compiled rtb ETS (base → tip) with named, locked calls into rtb's C extension.

    :param ets: a compiled ``roboticstoolbox.ETS`` (``ets.compile()``) with its ``qlim`` set.

    :ivar ets: the rtb ETS itself, for rtb's public methods (``A()``, ``isjoint``, ``ik_LM``
        in benchmarks). Its own methods call the same C handle without this lock: use them
        from one thread only.
    """

    def __init__(self, ets: Any) -> None:
        fkine, jacob0, ik_lm = _c_functions()
        self.ets = ets
        self.n = int(ets.n)
        self._handle = ets._fknm  # rtb's C object of the chain (private: built lazily by rtb)
        self._fkine_c = fkine
        self._jacob0_c = jacob0
        self._ik_lm_c = ik_lm
        self._lock = threading.Lock()

    def fkine(self, q: np.ndarray) -> np.ndarray:
        """
        Return the tip pose (4x4) for joints ``q``, in the chain's base frame.

        :param q: C-contiguous float64 array of ``n`` joints (not converted here).
        """
        with self._lock:
            # ETS_fkine(fknm, q, base, tool, include_base): no extra base or tool transform.
            return self._fkine_c(self._handle, q, None, None, 0)

    def jacob0(self, q: np.ndarray) -> np.ndarray:
        """
        Return the geometric Jacobian (6 x n, rows vx vy vz wx wy wz) in the base frame.

        :param q: C-contiguous float64 array of ``n`` joints (not converted here).
        """
        with self._lock:
            # ETS_jacob0(fknm, q, tool): no tool transform.
            return self._jacob0_c(self._handle, q, None)

    def ik_lm(
        self,
        target: np.ndarray,
        q0: np.ndarray,
        *,
        iterations: int,
        tol: float,
        mask: np.ndarray | None,
    ) -> tuple[np.ndarray, bool, float]:
        """
        Run one Levenberg–Marquardt search from ``q0``, joint limits ignored.

        :param target: the 4x4 float64 pose to reach (base frame).
        :param q0: the start joints, float64 array of ``n``.
        :param iterations: the most LM iterations of the search.
        :param tol: the search stops when ½ eᵀ W e falls below this.
        :param mask: the 6 weights W of the pose error (base frame), or None for all ones.

        :returns: ``(q, solved, residual)``: the last joints, rtb's success flag (residual below
            ``tol``) and the residual ½ eᵀ W e.
        """
        with self._lock:
            # IK_LM_c(fknm, Tep, q0, ilimit, slimit, tol, joint_limits, mask, k, method),
            # as rtb's ETS.ik_LM calls it: one search (slimit 1), limits not enforced, gain 1.
            q, solved, _iterations, _searches, residual = self._ik_lm_c(
                self._handle, target, q0, iterations, 1, tol, 0, mask, 1.0, LM_METHOD
            )
        return q, solved, residual


def load_chain(urdf_xml: str, base_link: str, tip_link: str) -> tuple[Any, Any]:
    """
    Read a URDF with rtb and return its robot and the chain ``base_link → tip_link``.

    Public rtb API only (``URDF_file``, ``Robot``, ``Robot.ets``).

    :returns: ``(robot, ets)``: the rtb ``Robot`` (its ``link_dict`` names the joints) and the
        chain's ETS, not compiled yet, the base link's own transform from its parent dropped so
        that poses are in ``base_link``'s frame.
    :raises Exception: whatever rtb raises for a URDF it cannot read (many types).
    """
    import roboticstoolbox as rtb
    from roboticstoolbox.models.URDF.URDFRobot import URDF_file

    elinks, name, _ = URDF_file(io.StringIO(urdf_xml))
    robot = rtb.Robot(elinks, name=name)
    ets = robot.ets(start=base_link, end=tip_link)
    # rtb's chain starts with the base link's own transform from its parent (e.g.
    # world -> base_link): poses are in base_link's frame, so that part is dropped
    own = len(robot.link_dict[base_link].ets)
    if own:
        ets = ets[own:]
    return robot, ets


def compile_chain(ets: Any, lower: Any, upper: Any) -> CompiledChain:
    """
    Return the :class:`CompiledChain` of ``ets`` with joint limits ``lower`` / ``upper``.

    Constant folding (``ETS.compile``: the URDF's identity base frame, fixed joints) spares
    every ET its own 4x4 product in each FK and Jacobian of the solver. Same results up to
    rounding (bit-identical for the shipped arms, where only the identity goes).
    """
    ets = ets.compile()
    ets.qlim = np.array([lower, upper], dtype=float)
    return CompiledChain(ets)


def load_arm_chain(profile: ArmProfile) -> CompiledChain:
    """
    Return the compiled chain ``base_link → tip_link`` of ``profile``'s URDF, its limits set.

    :raises ProfileError: the URDF cannot be read by rtb, or the chain does not hold exactly
        the profile's arm joints, in the profile's order.
    """
    try:
        robot, ets = load_chain(profile.urdf_xml(), profile.base_link, profile.tip_link)
    except ProfileError:
        raise
    except Exception as exc:  # rtb raises many types; the user needs the file
        raise ProfileError(
            profile.urdf_path, '', f'roboticstoolbox cannot read it: {exc}'
        ) from None
    # Joint names along the chain: rtb keeps the child link; the URDF maps link → joint.
    child_to_joint = {v['child']: k for k, v in profile.urdf_joints.items()}
    chain: list[str] = []
    link = robot.link_dict.get(profile.tip_link)
    while link is not None and link.name != profile.base_link:
        if link.isjoint:
            chain.append(child_to_joint.get(link.name, link.name))
        link = link.parent
    chain.reverse()
    joint_names = list(profile.joint_names)
    if chain != joint_names:
        raise ProfileError(
            profile.path,
            'joints',
            f'the chain {profile.base_link} → {profile.tip_link} in '
            f'{profile.urdf_path.name} moves {chain}, but the profile lists '
            f'{joint_names} (same joints, same order needed)',
        )
    return compile_chain(ets, profile.lower, profile.upper)
