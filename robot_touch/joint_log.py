"""
Commanded vs measured joint paths: collected during a run, saved as CSV and a PNG plot.

No rclpy here: the recorder node feeds :class:`JointLog` and calls :meth:`JointLog.save`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Sequence

#: the least span of a plot's y axis, by unit: a joint that does not move is drawn as the flat
#: line it is, not auto-scaled onto its numerical noise (1e-9 rad drawn as a spike)
MIN_SPAN = {'rad': 0.1, 'm': 0.01}


def axis_limits(values: Sequence[float], unit: str = 'rad') -> tuple[float, float] | None:
    """
    Return the y range of a panel; None without finite data.

    The data's own range, widened around its middle to at least :data:`MIN_SPAN` of ``unit``.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    low, high = min(finite), max(finite)
    span = MIN_SPAN.get(unit, MIN_SPAN['rad'])
    if high - low >= span:
        margin = 0.05 * (high - low)
        return (low - margin, high + margin)
    middle = (low + high) / 2
    return (middle - span / 2, middle + span / 2)


@dataclass
class JointLog:
    """
    Time-stamped joint vectors from two streams, by name.

    The arm's joints and, when ``gripper`` is given, the gripper (the last value of a command, as
    teleop sends it).
    """

    joint_names: list[str]
    gripper: str | None = None
    #: unit of each column (joints, then the gripper): rad or m; rad where not given
    units: list[str] = field(default_factory=list)
    commanded: list[tuple[float, list[float]]] = field(default_factory=list)
    measured: list[tuple[float, list[float]]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Return the names recorded: the joints, then the gripper."""
        return self.joint_names + ([self.gripper] if self.gripper is not None else [])

    def unit(self, index: int) -> str:
        return self.units[index] if index < len(self.units) else 'rad'

    def add_command(self, t: float, positions: Sequence[float]) -> None:
        n = len(self.joint_names)
        values = [float(v) for v in positions[:n]]
        if self.gripper is not None:
            values.append(float(positions[n]) if len(positions) > n else math.nan)
        self.commanded.append((t, values))

    def add_measurement(self, t: float, names: Sequence[str], positions: Sequence[float]) -> None:
        by_name = dict(zip(names, positions))
        if all(n in by_name for n in self.joint_names):
            values = [float(by_name[n]) for n in self.joint_names]
            if self.gripper is not None:
                values.append(float(by_name.get(self.gripper, math.nan)))
            self.measured.append((t, values))

    def save_csv(self, path: Path) -> Path:
        """
        One row per sample.

        Stream, time (s), then one column per joint (rad, or m for a prismatic joint); nan where a
        stream had no gripper value.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open('w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['stream', 't', *self.columns])
            for stream, rows in (('commanded', self.commanded), ('measured', self.measured)):
                for t, values in rows:
                    writer.writerow([stream, f'{t:.6f}', *(f'{v:.6f}' for v in values)])
        return path

    def figure(self, title: str = 'commanded vs measured joints'):  # a Figure
        """One panel per column against time: commanded (dashed) and measured (solid)."""
        import matplotlib

        matplotlib.use('Agg')  # files only; never open a window
        import matplotlib.pyplot as plt

        t0 = min([t for t, _ in self.commanded[:1] + self.measured[:1]] or [0.0])
        n = len(self.columns)
        fig, axes = plt.subplots(n, 1, figsize=(8, 1.6 * n + 1), sharex=True, squeeze=False)
        for i, name in enumerate(self.columns):
            ax = axes[i][0]
            values: list[float] = []
            streams = (('--', 'commanded', self.commanded), ('-', 'measured', self.measured))
            for style, label, rows in streams:
                if rows:
                    ys = [v[i] for _, v in rows]
                    ax.plot([t - t0 for t, _ in rows], ys, style, label=label)
                    values += ys
            limits = axis_limits(values, self.unit(i))
            if limits is not None:
                ax.set_ylim(*limits)
            # Plain tick labels: no "1e-9 + 0.5" offset on a joint that barely moves.
            ax.ticklabel_format(axis='y', style='plain', useOffset=False)
            ax.set_ylabel(f'{name}\n({self.unit(i)})', fontsize=8)
            ax.grid(True, alpha=0.3)
        axes[0][0].legend(loc='upper right', fontsize=8)
        axes[0][0].set_title(title)
        axes[-1][0].set_xlabel('time (s)')
        fig.tight_layout()
        return fig

    def save_plot(self, path: Path, title: str = 'commanded vs measured joints') -> Path:
        """Return the :meth:`figure` as a PNG."""
        import matplotlib.pyplot as plt

        fig = self.figure(title)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path
