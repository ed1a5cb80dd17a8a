"""
The OpenGL backend for MuJoCo, chosen once at an entry point before ``mujoco`` is imported.

MuJoCo reads ``MUJOCO_GL`` once, when it is first imported. Importing the simulation modules
changes nothing; the programs that run the simulation (the ``sim_arm`` node's ``main``, the
``robot-touch sim`` command, and tests) call :func:`prepare_gl` first:

* without a display, the default (GLFW) cannot open a context, while EGL renders off-screen on
  Mesa's software driver: choose EGL on headless machines unless the user set ``MUJOCO_GL``;
* a ``MUJOCO_GL`` whose library is missing (``osmesa`` without libOSMesa) makes the import
  itself fail. The physics needs no OpenGL, so import again with rendering disabled and keep
  the reason for the message a render request gets (:func:`gl_problem`).
"""

from __future__ import annotations

import os
import sys
from typing import MutableMapping

_problem: str | None = None  # None: prepare_gl has not run


def choose_backend(environ: MutableMapping[str, str]) -> None:
    """Set ``MUJOCO_GL=egl`` in ``environ`` when there is no display and the user chose none."""
    if 'MUJOCO_GL' not in environ and not environ.get('DISPLAY'):
        if not environ.get('WAYLAND_DISPLAY'):
            environ['MUJOCO_GL'] = 'egl'


def prepare_gl() -> str:
    """
    Choose the backend and import ``mujoco``, surviving a broken backend (once per process).

    :returns: why rendering is unavailable, or '' when the backend loaded.
    """
    global _problem
    if _problem is not None:
        return _problem
    if 'mujoco' not in sys.modules:
        choose_backend(os.environ)
    try:
        import mujoco  # imported for its side effect: the backend is loaded

        _problem = ''
    except (AttributeError, ImportError, OSError, RuntimeError) as exc:  # Runtime: unknown GL
        _problem = (
            f'MUJOCO_GL={os.environ.get("MUJOCO_GL", "")} failed to load '
            f'({type(exc).__name__}: {exc})'
        )
        for name in [
            m for m in sys.modules if m == 'mujoco' or m.startswith(('mujoco.', 'OpenGL'))
        ]:
            del sys.modules[name]
        os.environ['MUJOCO_GL'] = 'disable'
        import mujoco  # noqa: F401,F811 (the second try, rendering disabled)
    return _problem


def gl_problem() -> str:
    """Return why rendering is unavailable ('' when it may work, or prepare_gl never ran)."""
    return _problem or ''


__all__ = ['choose_backend', 'gl_problem', 'prepare_gl']
