"""Off-screen pictures of a simulated arm (EGL, OSMesa, or GLFW under Xvfb)."""

from __future__ import annotations

import os
from pathlib import Path
import warnings

import mujoco
import numpy as np
from robot_touch.sim.common import RenderUnavailable
from robot_touch.sim.gl import gl_problem


class OffscreenRenderer:
    """
    Draws the arm to an RGB image without a window (EGL, OSMesa or GLFW under Xvfb).

    Create and use it in one thread: the OpenGL context belongs to the thread that made it.

    :raises RenderUnavailable: no OpenGL backend works here; the message says what to try.
    """

    def __init__(self, model: mujoco.MjModel, width: int = 640, height: int = 480) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        hint = 'try MUJOCO_GL=egl or MUJOCO_GL=osmesa, or run under Xvfb with MUJOCO_GL=glfw'
        problem = gl_problem()
        if problem:
            raise RenderUnavailable(
                f'off-screen rendering unavailable: {problem}; {hint}'
            )
        backend = os.environ.get('MUJOCO_GL') or 'glfw'
        try:
            with (
                warnings.catch_warnings()
            ):  # GLFW warns before failing; the error below says it all
                warnings.simplefilter('ignore')
                self._renderer = mujoco.Renderer(model, height=height, width=width)
        except Exception as exc:  # GL failures come as many types; the user needs one line
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RenderUnavailable(
                f'off-screen rendering unavailable (MUJOCO_GL={backend}): {reason}; {hint}'
            ) from None
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        # Frame the arm, not the whole floor (which dominates model.stat): its bodies in
        # the reference pose, seen from a distance that fits it stretched out.
        mujoco.mj_forward(model, self.data)
        bodies = self.data.xpos[1:]
        reach = float(np.max(np.linalg.norm(bodies - bodies[0], axis=1))) if len(bodies) else 0.3
        self.camera.lookat[:] = (
            bodies[0] + np.array([0.0, 0.0, 0.5 * reach]) if len(bodies) else model.stat.center
        )
        self.camera.distance = max(0.3, 1.8 * reach)
        self.camera.azimuth = 135.0
        self.camera.elevation = -25.0

    def render(self, qpos: np.ndarray) -> np.ndarray:
        """Return an RGB image (height × width × 3, uint8) of the arm in pose ``qpos``."""
        self.data.qpos[:] = qpos
        mujoco.mj_forward(self.model, self.data)
        self._renderer.update_scene(self.data, camera=self.camera)
        return self._renderer.render()

    def save_png(self, qpos: np.ndarray, path: str | Path) -> Path:
        """Render ``qpos`` and write it to ``path`` as a PNG; returns the path."""
        from PIL import Image

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a viewer polling the file never reads half an image.
        tmp = path.with_name(f'.{path.name}.tmp')
        Image.fromarray(self.render(qpos)).save(tmp, format='PNG')
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        """Free the OpenGL context."""
        self._renderer.close()


__all__ = ['OffscreenRenderer', 'RenderUnavailable']
