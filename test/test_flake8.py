"""
flake8 as ament_python packages run it (ament_flake8's configuration).

99 columns, single quotes, google import order, builtins, comprehensions and docstring
checks. To fix most findings at once: ``ruff format`` and ``ruff check --fix`` (ruff.toml
mirrors these rules).
"""

from ament_flake8.main import main_with_errors
import pytest
from support.lint import lint_paths


@pytest.mark.linter
def test_flake8() -> None:
    """Check that the code passes ament_flake8: each finding is printed with its file and line."""
    rc, errors = main_with_errors(argv=lint_paths())
    assert rc == 0, f'{len(errors)} flake8 findings:\n' + '\n'.join(errors)
