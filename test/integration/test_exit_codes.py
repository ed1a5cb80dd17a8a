"""
Exit codes that tell the truth.

A demo stopped before its end is a failure (130 after Ctrl-C), never "demo finished" and 0.
"""

from __future__ import annotations

from pathlib import Path
import signal
import time
import uuid

import pytest
from support.graph_run import kill_leftovers, run_log, start_run
from support.waiting import wait_for

pytestmark = pytest.mark.ui


@pytest.mark.ros
@pytest.mark.slow
@pytest.mark.timeout(150)
def test_ctrl_c_during_the_demo_exits_130_and_does_not_say_finished(tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    run = start_run(tmp_path, token, '--demo', '--namespace', f'demo_{token[:6]}')
    try:
        wait_for(
            lambda: 'demo: arm connected' in run_log(run) or run.poll() is not None,
            120,
            'the demo to start',
        )
        time.sleep(1.0)  # in the middle of the first drag
        run.send_signal(signal.SIGINT)
        code = run.wait(30)
    finally:
        kill_leftovers(token)
        if run.poll() is None:
            run.kill()
    log = run_log(run)
    assert code == 130, log[-3000:]
    assert '[run] the demo was interrupted (SIGINT)' in log
    assert 'demo finished' not in log
