"""`robot-touch ik`: poses JSON in, joints JSON out; bad poses per entry, bad files in one line."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import pytest
from robot_touch.cli.main import main
from robot_touch.core.kinematics import ArmKinematics


def write(tmp_path: Path, data: object, name: str = 'poses.json') -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_matrix_and_quaternion_poses_are_solved_in_order(
    tmp_path: Path, kin: ArmKinematics
) -> None:
    T1 = kin.fk([0.2, 0.3, -0.2, 0.4, 0.1])
    T2 = kin.fk([0.25, 0.3, -0.2, 0.4, 0.1])
    quat_pose = {'xyz': [0.25, 0.0, 0.12], 'quat': [0.0, 0.0, 0.0, 1.0]}
    src = write(tmp_path, [T1.tolist(), T2.tolist(), quat_pose])
    out = tmp_path / 'result.json'
    assert main(['ik', '--arm', 'so101', '--in', str(src), '--out', str(out)]) == 0
    result = json.loads(out.read_text())
    assert result['arm'] == 'so101'
    assert result['joint_names'] == kin.joint_names
    entries = result['results']
    assert [e['index'] for e in entries] == [0, 1, 2]
    for e, T in zip(entries[:2], (T1, T2)):
        assert e['ok'] and e['reachable'] and e['reason'] == 'ok'
        assert set(e['joints']) == set(kin.joint_names)
        q = [e['joints'][n] for n in kin.joint_names]
        np.testing.assert_allclose(kin.fk(q)[:3, 3], T[:3, 3], atol=1e-4)
        assert (
            e['position_error_m'] < 1e-4
            and e['rotation_error_rad'] < 1e-3
            and e['distance_m'] == 0.0
        )
        assert e['solve_time_us'] > 0
    # Seeded with the previous answer: the second pose is a small pan move of the first.
    assert (
        abs(entries[1]['joints']['shoulder_lift'] - entries[0]['joints']['shoulder_lift']) < 0.05
    )
    assert entries[2]['ok']


def test_bad_pose_is_reported_in_its_entry_and_the_rest_still_solved(
    tmp_path: Path, kin: ArmKinematics
) -> None:
    """The user sees reason invalid_pose and the message for that pose; exit status 1."""
    good = kin.fk([0.1, 0.2, -0.1, 0.3, 0.0]).tolist()
    src = write(
        tmp_path,
        {
            'poses': [
                good,
                {'xyz': [0, 0, 0], 'quat': [0, 0, 0, 0]},
                [[1, 0], [0, 1]],
                {'xyz': [0.1, 0, 0.1]},
                good,
            ]
        },
    )
    out = tmp_path / 'r.json'
    assert main(['ik', '--arm', 'so101', '--in', str(src), '--out', str(out)]) == 1
    e = json.loads(out.read_text())['results']
    assert [x['reason'] for x in e] == ['ok', 'invalid_pose', 'invalid_pose', 'invalid_pose', 'ok']
    assert 'quaternion is zero' in e[1]['error']
    assert '4x4' in e[2]['error']
    assert '"xyz" and "quat"' in e[3]['error']
    assert e[1]['joints'] is None and not e[1]['ok']


def test_unreachable_pose_gets_the_nearest_joints_and_exit_status_1(tmp_path: Path) -> None:
    src = write(tmp_path, [{'xyz': [2.0, 0.0, 0.2], 'quat': [0, 0, 0, 1]}])
    out = tmp_path / 'r.json'
    assert main(['ik', '--arm', 'so101', '--in', str(src), '--out', str(out)]) == 1
    (e,) = json.loads(out.read_text())['results']
    assert e['reason'] == 'unreachable' and not e['reachable']
    assert 1.4 < e['distance_m'] < 2.0
    assert len(e['joints']) == 5


def test_stdin_to_stdout_with_a_seed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kin: ArmKinematics
) -> None:
    T = kin.fk([-0.4, 0.3, 0.2, 0.1, 0.0])
    monkeypatch.setattr(sys, 'stdin', io.StringIO(json.dumps([T.tolist()])))
    assert (
        main(['ik', '--arm', 'so101', '--in', '-', '--out', '-', '--seed=-0.4,0.3,0.2,0.1,0']) == 0
    )
    result = json.loads(capsys.readouterr().out)
    (e,) = result['results']
    assert e['joints']['shoulder_pan'] == pytest.approx(-0.4, abs=1e-3)


BAD_FILES = {
    'missing_file': (None, 'cannot read'),
    'not_json': ('{poses: [', 'is not valid JSON (line 1'),
    'not_a_list': ('{"pose": 1}', 'must hold a list of poses'),
    'binary': (b'\xff\xfe\x00', 'not a UTF-8 text file'),
}


@pytest.mark.parametrize('case', list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_input_file_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    content, words = BAD_FILES[case]
    src = tmp_path / 'in.json'
    if isinstance(content, bytes):
        src.write_bytes(content)
    elif content is not None:
        src.write_text(content)
    assert main(['ik', '--arm', 'so101', '--in', str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith('robot-touch ik: error: ') and words in err[0]


@pytest.mark.parametrize(
    'seed', ['1,2', 'a,b,c,d,e', '[0, 0, 0, 0, NaN]'], ids=['short', 'text', 'nan']
)
def test_bad_seed_is_one_error_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: str
) -> None:
    src = write(tmp_path, [])
    assert main(['ik', '--arm', 'so101', '--in', str(src), '--seed', seed]) == 2
    assert '--seed must be 5' in capsys.readouterr().err


def test_unknown_arm_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = write(tmp_path, [])
    assert main(['ik', '--arm', 'nope', '--in', str(src)]) == 2
    assert 'unknown arm profile' in capsys.readouterr().err


def test_help_documents_the_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(['ik', '--help'])
    text = capsys.readouterr().out
    assert '{"xyz": [0.2, 0.0, 0.15], "quat": [0, 0, 0, 1]}' in text
    assert 'invalid_pose' in text and 'exit status' in text


@pytest.mark.timeout(60)
def test_installed_console_script(tmp_path: Path) -> None:
    exe = shutil.which('robot-touch', path=os.path.dirname(sys.executable)) or shutil.which(
        'robot-touch'
    )
    if exe is None:
        pytest.skip('robot-touch console script not installed (pip install -e .)')
    src = write(tmp_path, [{'xyz': [0.2, 0.05, 0.15], 'quat': [0, 0.38268343, 0, 0.92387953]}])
    proc = subprocess.run(
        [exe, 'ik', '--arm', 'open_manipulator_x', '--in', str(src)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    (e,) = json.loads(proc.stdout)['results']
    assert set(e['joints']) == {'joint1', 'joint2', 'joint3', 'joint4'}
    assert e['reason'] in ('ok', 'unreachable', 'joint_limits')


@pytest.mark.timeout(60)
def test_bench_ik_runs_and_our_solver_reaches_every_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`robot-touch bench ik` smoke test (figures are not asserted: they belong to benchmarks)."""
    out = tmp_path / 'bench.json'
    assert (
        main(['bench', 'ik', '--arm', 'so101', '--n', '8', '--no-ikpy', '--json', str(out)]) == 0
    )
    rows = json.loads(out.read_text())
    ours = [r for r in rows if r['solver'] == 'robot_touch']
    assert {r['workload'] for r in ours} == {'cold', 'tracking'}
    assert all(r['success_pct'] == 100.0 and r['n'] == 8 for r in ours)
    assert any(r['solver'] == 'rtb ik_LM' for r in rows)
    assert 'median µs' in capsys.readouterr().out
