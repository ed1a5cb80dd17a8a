"""Commanded vs measured joint paths: collected during a run, saved as CSV and a PNG plot.

No rclpy here: the recorder node feeds :class:`JointLog` and calls :meth:`JointLog.save`.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence


@dataclass
class JointLog:
    """Time-stamped joint vectors from two streams, by joint name."""

    joint_names: list[str]
    commanded: list[tuple[float, list[float]]] = field(default_factory=list)
    measured: list[tuple[float, list[float]]] = field(default_factory=list)

    def add_command(self, t: float, positions: Sequence[float]) -> None:
        self.commanded.append((t, [float(v) for v in positions[: len(self.joint_names)]]))

    def add_measurement(self, t: float, names: Sequence[str], positions: Sequence[float]) -> None:
        by_name = dict(zip(names, positions))
        if all(n in by_name for n in self.joint_names):
            self.measured.append((t, [float(by_name[n]) for n in self.joint_names]))

    def save_csv(self, path: Path) -> Path:
        """One row per sample: stream, time (s), then one column per joint (rad)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["stream", "t", *self.joint_names])
            for stream, rows in (("commanded", self.commanded), ("measured", self.measured)):
                for t, values in rows:
                    writer.writerow([stream, f"{t:.6f}", *(f"{v:.6f}" for v in values)])
        return path

    def save_plot(self, path: Path, title: str = "commanded vs measured joints") -> Path:
        """A PNG with one panel per joint: commanded (dashed) and measured (solid) against time."""
        import matplotlib

        matplotlib.use("Agg")  # files only; never open a window
        import matplotlib.pyplot as plt

        t0 = min([t for t, _ in self.commanded[:1] + self.measured[:1]] or [0.0])
        n = len(self.joint_names)
        fig, axes = plt.subplots(n, 1, figsize=(8, 1.6 * n + 1), sharex=True, squeeze=False)
        for i, name in enumerate(self.joint_names):
            ax = axes[i][0]
            if self.commanded:
                ax.plot([t - t0 for t, _ in self.commanded], [v[i] for _, v in self.commanded], "--", label="commanded")
            if self.measured:
                ax.plot([t - t0 for t, _ in self.measured], [v[i] for _, v in self.measured], "-", label="measured")
            ax.set_ylabel(f"{name}\n(rad)", fontsize=8)
            ax.grid(True, alpha=0.3)
        axes[0][0].legend(loc="upper right", fontsize=8)
        axes[0][0].set_title(title)
        axes[-1][0].set_xlabel("time (s)")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path
