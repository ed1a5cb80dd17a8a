"""Errors a user sees. Each says which file and which field is wrong, never a library traceback."""

from __future__ import annotations


class RobotTouchError(Exception):
    """Base of every error robot_touch raises on purpose; the CLI prints it as one line."""


class ProfileError(RobotTouchError):
    """
    A malformed arm profile or URDF.

    :param path: the file at fault.
    :param field: the dotted field inside it (e.g. ``joints[2].upper``), or "" for the whole file.
    :param message: what is wrong, in words a user can act on.
    """

    def __init__(self, path: object, field: str, message: str) -> None:
        self.path = str(path)
        self.field = field
        self.message = message
        where = f'{self.path}: {field}' if field else self.path
        super().__init__(f'{where}: {message}')


class PoseError(RobotTouchError, ValueError):
    """A target pose that is not a pose (NaN, inf, wrong shape, zero quaternion)."""
