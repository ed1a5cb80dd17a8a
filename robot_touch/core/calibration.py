"""
Calibration files and the interactive calibration procedure, as plain Python.

The import path for both (every other module imports from here):

* :mod:`robot_touch.core.calibration_file`: the YAML format (``docs/calibration.md``) that
  overrides, joint by joint, the ``calibration:`` block of an arm profile; load, save,
  validate, merge into a profile.
* :mod:`robot_touch.core.calibration_procedure`: :class:`CalibrationProcedure`, the procedure
  ``robot-touch calibrate`` walks a person through, a state machine fed with readings and key
  presses so that it can be tested without a terminal or an arm.
"""

from __future__ import annotations

from robot_touch.core.calibration_file import (
    CalibrationError,
    CalibrationFile,
    default_calibration_path,
    FORMAT_VERSION,
    JointCalibration,
    load_calibration,
    merge_calibration,
    parse_calibration,
    PROFILE_CALIBRATION,
    resolve_calibration,
    save_calibration,
)
from robot_touch.core.calibration_procedure import (
    CalibrationProcedure,
    Step,
    StepKind,
    StepOutcome,
)

__all__ = [
    'CalibrationError',
    'CalibrationFile',
    'CalibrationProcedure',
    'default_calibration_path',
    'FORMAT_VERSION',
    'JointCalibration',
    'load_calibration',
    'merge_calibration',
    'parse_calibration',
    'PROFILE_CALIBRATION',
    'resolve_calibration',
    'save_calibration',
    'Step',
    'StepKind',
    'StepOutcome',
]
