"""The demo's commanded-vs-measured record: CSV rows and a PNG plot."""
from __future__ import annotations

import csv
from pathlib import Path

from robot_touch.joint_log import JointLog


def test_csv_and_plot_hold_both_streams(tmp_path: Path) -> None:
    log = JointLog(["a", "b"])
    for i in range(20):
        log.add_command(i * 0.01, [0.1 * i, -0.1 * i, 0.5])  # a trailing gripper value is ignored
        log.add_measurement(i * 0.01 + 0.005, ["b", "a", "gripper"], [-0.1 * i, 0.1 * i, 0.0])
    rows = list(csv.reader(log.save_csv(tmp_path / "paths.csv").open()))
    assert rows[0] == ["stream", "t", "a", "b"]
    assert sum(r[0] == "commanded" for r in rows) == 20 and sum(r[0] == "measured" for r in rows) == 20
    assert rows[-1][2:] == ["1.900000", "-1.900000"], "measured values are reordered to the profile's joint order"
    png = log.save_plot(tmp_path / "paths.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_joint_state_missing_a_joint_is_not_recorded() -> None:
    log = JointLog(["a", "b"])
    log.add_measurement(0.0, ["a"], [1.0])
    assert log.measured == []
