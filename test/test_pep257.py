"""Docstrings checked by ament_pep257 (the ament convention of pydocstyle)."""

from ament_pep257.main import main
import pytest
from support.lint import lint_paths


@pytest.mark.linter
def test_pep257() -> None:
    """Check that every docstring follows the ament convention (findings are printed above)."""
    rc = main(argv=lint_paths())
    assert rc == 0, 'docstrings off the ament convention: see the findings printed above'
