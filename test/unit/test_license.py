"""The license is stated once in substance: LICENSE, package.xml and setup.py agree on it."""

from __future__ import annotations

import ast
from pathlib import Path
import xml.etree.ElementTree as ET

ROOT = Path(__file__).resolve().parents[2]
SPDX = 'Apache-2.0'


def _setup_license() -> str:
    """Return the ``license=`` argument of setup.py's setup() call."""
    for node in ast.walk(ast.parse((ROOT / 'setup.py').read_text())):
        if isinstance(node, ast.keyword) and node.arg == 'license':
            return ast.literal_eval(node.value)
    raise AssertionError('setup.py passes no license to setup()')


def test_license_file_is_the_apache_license_2_0() -> None:
    """Check that LICENSE holds the Apache License 2.0 text itself, terms to appendix."""
    text = (ROOT / 'LICENSE').read_text()
    head = ' '.join(text.split()[:6])
    assert head == 'Apache License Version 2.0, January 2004', head
    for part in (
        'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION',
        '2. Grant of Copyright License.',
        '3. Grant of Patent License.',
        '4. Redistribution.',
        '9. Accepting Warranty or Additional Liability.',
        'END OF TERMS AND CONDITIONS',
        'APPENDIX: How to apply the Apache License to your work.',
    ):
        assert part in text, f'LICENSE lacks {part!r}: not the whole license text'


def test_package_xml_and_setup_py_name_the_same_license_as_license_file() -> None:
    """Check that package.xml's <license> and setup.py's license are the SPDX id of LICENSE."""
    licenses = ET.parse(ROOT / 'package.xml').getroot().findall('license')
    assert [e.text.strip() for e in licenses] == [SPDX]
    # REP-149: ``file`` points at the full text, relative to package.xml.
    assert licenses[0].get('file') == 'LICENSE'
    assert (ROOT / licenses[0].get('file')).is_file()
    assert _setup_license() == SPDX
