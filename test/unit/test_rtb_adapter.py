"""
The private roboticstoolbox surface the kinematics rely on, checked against rtb's public API.

robot_touch calls rtb's C extension directly (robot_touch/core/kinematics/rtb_adapter.py).
When an rtb upgrade changes that surface, these tests fail and their message names what
changed: a missing function or attribute, a different argument order, other shapes or values.
"""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest
from robot_touch.core.kinematics import ArmKinematics, ITERATIONS, rtb_adapter, SOLVER_TOL
from robot_touch.core.kinematics.rtb_adapter import CHECKED_RTB_VERSION, CompiledChain

UPGRADE = (
    'roboticstoolbox-python {version} is installed; robot_touch/core/kinematics/rtb_adapter.py '
    f'was checked against {CHECKED_RTB_VERSION}'
)


@pytest.fixture(scope='module')
def chain(kin: ArmKinematics) -> CompiledChain:
    """Provide the compiled chain of the SO-101 (5 joints)."""
    return kin.chain


def _known_q(kin: ArmKinematics) -> np.ndarray:
    """Return a fixed configuration inside the limits, away from home and singularities."""
    lo, hi = np.array(kin.profile.lower), np.array(kin.profile.upper)
    return lo + (hi - lo) * np.linspace(0.35, 0.65, kin.dof)


def test_installed_rtb_is_the_checked_minor_version() -> None:
    """Check that the installed rtb has the major.minor version the adapter was checked on."""
    version = metadata.version('roboticstoolbox-python')
    assert version.split('.')[:2] == CHECKED_RTB_VERSION.split('.')[:2], (
        UPGRADE.format(version=version)
        + ': run this file, fix what it names, then update CHECKED_RTB_VERSION and the upper'
        ' bound in setup.py'
    )


def test_private_c_functions_exist() -> None:
    """Check that roboticstoolbox._fknm_c still has ETS_fkine, ETS_jacob0 and IK_LM_c."""
    try:
        import roboticstoolbox._fknm_c as fknm_c
    except ImportError as exc:
        pytest.fail(f'roboticstoolbox._fknm_c (rtb C extension) cannot be imported: {exc}')
    missing = [n for n in ('ETS_fkine', 'ETS_jacob0', 'IK_LM_c') if not hasattr(fknm_c, n)]
    assert not missing, f'roboticstoolbox._fknm_c no longer has {missing}'


def test_compiled_ets_has_its_c_handle(chain: CompiledChain) -> None:
    """Check that a compiled ETS still exposes its C object as ``_fknm``."""
    assert hasattr(chain.ets, '_fknm'), 'rtb ETS objects no longer have the _fknm attribute'
    assert chain.ets._fknm is not None, 'ETS._fknm is None: rtb built no C handle for the chain'
    assert type(chain.ets._fknm).__name__ == '_ETSObj', (
        f"ETS._fknm is a {type(chain.ets._fknm).__name__}, not rtb 1.5's _ETSObj"
    )


def test_fkine_matches_rtb_public_fkine(kin: ArmKinematics, chain: CompiledChain) -> None:
    """Check that ETS_fkine(handle, q, None, None, 0) is ETS.fkine(q): a 4x4 float pose."""
    q = _known_q(kin)
    T = chain.fkine(np.ascontiguousarray(q))
    assert isinstance(T, np.ndarray) and T.shape == (4, 4) and T.dtype == float, (
        f'ETS_fkine returned {type(T).__name__} {getattr(T, "shape", None)}, not a 4x4 array'
    )
    public = np.asarray(chain.ets.fkine(q).A)
    assert np.allclose(T, public, atol=1e-12), (
        'ETS_fkine(fknm, q, base, tool, include_base) no longer equals ETS.fkine(q): '
        'its arguments changed meaning'
    )
    assert np.array_equal(T[3], [0.0, 0.0, 0.0, 1.0])


def test_jacob0_matches_rtb_public_jacob0(kin: ArmKinematics, chain: CompiledChain) -> None:
    """Check that ETS_jacob0(handle, q, None) is ETS.jacob0(q): 6 x n, base frame."""
    q = _known_q(kin)
    J = chain.jacob0(np.ascontiguousarray(q))
    assert isinstance(J, np.ndarray) and J.shape == (6, kin.dof), (
        f'ETS_jacob0 returned {type(J).__name__} {getattr(J, "shape", None)}, not 6 x {kin.dof}'
    )
    assert np.allclose(J, chain.ets.jacob0(q), atol=1e-12), (
        'ETS_jacob0(fknm, q, tool) no longer equals ETS.jacob0(q): its arguments changed meaning'
    )
    # Ground truth independent of rtb's Jacobian: a finite difference of the FK position.
    eps = 1e-7
    for i in range(kin.dof):
        dq = np.zeros(kin.dof)
        dq[i] = eps
        dp = (kin.fk(q + dq)[:3, 3] - kin.fk(q - dq)[:3, 3]) / (2 * eps)
        assert np.allclose(J[:3, i], dp, atol=1e-6), f'linear rows of column {i} are not dp/dq'


@pytest.mark.parametrize('mask', [None, np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])])
def test_ik_lm_matches_rtb_public_ik_lm(
    kin: ArmKinematics, chain: CompiledChain, mask: np.ndarray | None
) -> None:
    """
    Check that IK_LM_c's ten positional arguments still mean what the adapter names them.

    The adapter's call and rtb's public ``ETS.ik_LM`` with the same named settings run the same
    C solver: the answers are equal bit for bit, and the target is reached.
    """
    q_true = _known_q(kin)
    target = chain.fkine(np.ascontiguousarray(q_true))
    q0 = q_true + 0.05
    out = chain.ik_lm(target, q0, iterations=ITERATIONS, tol=SOLVER_TOL, mask=mask)
    assert isinstance(out, tuple) and len(out) == 3
    q, solved, residual = out
    assert isinstance(q, np.ndarray) and q.shape == (kin.dof,), (
        f'IK_LM_c returned q as {type(q).__name__} {getattr(q, "shape", None)}'
    )
    assert solved and residual < SOLVER_TOL, (
        f'IK_LM_c did not solve an FK pose from 0.05 rad away (success {solved}, residual '
        f'{residual}): its arguments (fknm, Tep, q0, ilimit, slimit, tol, joint_limits, mask, k, '
        'method) changed'
    )
    assert np.allclose(chain.fkine(np.ascontiguousarray(q)), target, atol=1e-5)
    public = chain.ets.ik_LM(
        target,
        q0=q0,
        ilimit=ITERATIONS,
        slimit=1,
        tol=SOLVER_TOL,
        mask=mask,
        joint_limits=False,
        k=1.0,
        method=rtb_adapter.LM_METHOD,
    )
    assert np.array_equal(q, np.asarray(public.q)), (
        'IK_LM_c answers differently from ETS.ik_LM with the same settings: the order or '
        'meaning of its positional arguments changed'
    )
    assert float(residual) == float(public.residual)


def test_ik_lm_without_mask_weights_every_axis_by_one(
    kin: ArmKinematics, chain: CompiledChain
) -> None:
    """Check that mask None is the identity weighting, bit for bit (the facade relies on it)."""
    q_true = _known_q(kin)
    target = chain.fkine(np.ascontiguousarray(q_true))
    q0 = q_true - 0.1
    a = chain.ik_lm(target, q0, iterations=ITERATIONS, tol=SOLVER_TOL, mask=None)
    b = chain.ik_lm(target, q0, iterations=ITERATIONS, tol=SOLVER_TOL, mask=np.ones(6))
    assert np.array_equal(a[0], b[0]) and a[2] == b[2], (
        'IK_LM_c with mask None no longer equals mask ones: set ArmKinematics._lm_mask always'
    )
