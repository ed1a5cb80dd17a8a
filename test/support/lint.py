"""The files the lint tests check: the package, its tests, launch files and setup scripts."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Folders and files of ours; build output, venvs and generated files stay out.
LINTED = ['robot_touch', 'test', 'launch', 'setup.py', 'main.py']


def lint_paths() -> list[str]:
    """Return the absolute paths of everything the lint tests check."""
    return [str(ROOT / name) for name in LINTED if (ROOT / name).exists()]
