"""The demo's exit code tells the truth: a step that misses its target, or a demo stopped
before its end, is a failure (130 after Ctrl-C), never "demo finished" and 0."""
from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

import pytest

from robot_touch.ui.demo import HOME_TOLERANCE_RAD, TOLERANCE_MM, judge_home, judge_step


def test_a_step_that_ends_far_from_its_target_fails() -> None:
    """The issue's run: "moved 0 mm, 67.1 mm from the target" was reported and exited 0."""
    assert judge_step("top-view drag", 67.1) == "top-view drag: the tip ended 67.1 mm from the target (tolerance 10 mm)"
    assert judge_step("top-view drag", 0.4) is None
    assert judge_step("Home", None) is None  # no Cartesian target to miss
    assert TOLERANCE_MM == 10.0


def test_home_fails_when_a_joint_is_not_home() -> None:
    home = {"a": 0.0, "b": 1.0}
    assert judge_home({"a": 0.01, "b": 0.99}, home) is None
    assert judge_home({"a": 0.01, "b": 0.8}, home) == f"Home: b ended 0.200 rad from home (tolerance {HOME_TOLERANCE_RAD:g} rad)"


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.timeout(150)
def test_ctrl_c_during_the_demo_exits_130_and_does_not_say_finished(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    from _graph_run import kill_leftovers, run_log, start_run
    from waiting import wait_for

    token = uuid.uuid4().hex
    run = start_run(tmp_path, token, "--demo", "--namespace", f"demo_{token[:6]}")
    try:
        wait_for(lambda: "demo: arm connected" in run_log(run) or run.poll() is not None, 120, "the demo to start")
        time.sleep(1.0)  # in the middle of the first drag
        run.send_signal(signal.SIGINT)
        code = run.wait(30)
    finally:
        kill_leftovers(token)
        if run.poll() is None:
            run.kill()
    log = run_log(run)
    assert code == 130, log[-3000:]
    assert "[run] the demo was interrupted (SIGINT)" in log
    assert "demo finished" not in log
