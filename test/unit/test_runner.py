"""The process supervisor behind `robot-touch run`, with real child processes."""

from __future__ import annotations

import io
import os
from pathlib import Path
import textwrap
import time

import pytest
from robot_touch.graph import ProcessSpec
from robot_touch.runner import GraphFailed, Supervisor

FAKE_NODE = textwrap.dedent(
    """
    import os, sys, time
    def main():
        print("PORT /dev/pts/fake" if os.environ.get("FAKE_READY") else "hello", flush=True)
        life = float(os.environ.get("FAKE_LIFE", "60"))
        time.sleep(life)
        return int(os.environ.get("FAKE_CODE", "0"))
    """
)


@pytest.fixture
def fake_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / 'fake_node.py').write_text(FAKE_NODE)
    env = dict(os.environ)
    env['PYTHONPATH'] = f'{tmp_path}{os.pathsep}{env.get("PYTHONPATH", "")}'
    return env


def spec(name: str, **kw) -> ProcessSpec:
    return ProcessSpec(name=name, executable=name, module='fake_node', ros_node=False, **kw)


@pytest.mark.timeout(30)
def test_a_dying_node_stops_the_graph_and_its_code_is_returned(fake_env: dict[str, str]) -> None:
    out = io.StringIO()
    sup = Supervisor(
        [spec('steady'), spec('crashy')],
        env=fake_env,
        out=out,
        extra_env={'crashy': {'FAKE_LIFE': '0.3', 'FAKE_CODE': '3'}},
    )
    sup.start()
    code = sup.supervise()
    assert code == 3
    assert '[run] crashy exited with code 3; stopping the graph' in out.getvalue()
    assert all(p.popen.poll() is not None for p in sup.running), 'no child may outlive the runner'


@pytest.mark.timeout(30)
def test_output_is_prefixed_and_ready_line_is_awaited(fake_env: dict[str, str]) -> None:
    out = io.StringIO()
    sup = Supervisor(
        [spec('arm', ready_prefix='PORT '), spec('next')],
        env=fake_env,
        out=out,
        extra_env={'arm': {'FAKE_READY': '1'}},
    )
    sup.start()
    try:
        deadline = time.monotonic() + 10
        while '[next] hello' not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        text = out.getvalue()
        assert '[arm] PORT /dev/pts/fake' in text
        assert text.index('[arm] PORT') < text.index('[next] hello')
    finally:
        sup.stop()


@pytest.mark.timeout(30)
def test_a_process_that_never_gets_ready_is_reported(fake_env: dict[str, str]) -> None:
    sup = Supervisor(
        [spec('silent', ready_prefix='PORT ')], env=fake_env, out=io.StringIO(), ready_timeout=0.5
    )
    try:
        with pytest.raises(GraphFailed, match="silent did not print 'PORT ' within 0.5 s"):
            sup.start()
    finally:
        sup.stop()


@pytest.mark.timeout(30)
def test_until_ends_the_run_cleanly(fake_env: dict[str, str]) -> None:
    sup = Supervisor([spec('steady')], env=fake_env, out=io.StringIO())
    sup.start()
    t0 = time.monotonic()
    assert sup.supervise(until=lambda: time.monotonic() - t0 > 0.3) == 0
    assert sup.running[0].popen.poll() is not None
