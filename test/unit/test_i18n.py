"""Every UI string is translated, and the compiled catalogs match their sources."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path
import re

import pytest
from robot_touch.ui.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, Translator

PACKAGE = Path(__file__).resolve().parents[2] / 'robot_touch'
#: The touch UI and the tablet app (its connect screen and link bar).
UI_DIRS = [PACKAGE / 'ui', PACKAGE / 'tablet']
# _('...') / N_("...") in kv rules (they add `, app.lang`), also kv embedded in Python strings.
CALL = re.compile(r"""\bN?_\(\s*(['"])((?:\\.|(?!\1).)*)\1""")


def _kv_msgids(text: str) -> set[str]:
    """Return the msgids of the _() calls in kv rules."""
    return {ast.literal_eval(m.group(1) + m.group(2) + m.group(1)) for m in CALL.finditer(text)}


def _python_msgids(source: str) -> set[str]:
    """
    Return the msgids of a Python module.

    The literal first arguments of its _() and N_() calls (concatenated literals too), and those
    of the kv rules its strings hold.
    """
    ids = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            ids |= _kv_msgids(node.value)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ('_', 'N_')
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            ids.add(node.args[0].value)
    return ids


def used_msgids() -> set[str]:
    ids: set[str] = set()
    for folder in UI_DIRS:
        for path in sorted(folder.rglob('*.py')) + sorted(folder.rglob('*.kv')):
            text = path.read_text(encoding='utf-8')
            ids |= _python_msgids(text) if path.suffix == '.py' else _kv_msgids(text)
    return ids


def parse_po(path: Path) -> dict[str, str]:
    """Msgid → msgstr of a .po file (single-line entries, as ours are)."""
    entries: dict[str, str] = {}
    msgid = None
    for line in path.read_text(encoding='utf-8').splitlines():
        if line.startswith('msgid '):
            msgid = ast.literal_eval(line[6:])
        elif line.startswith('msgstr ') and msgid is not None:
            entries[msgid] = ast.literal_eval(line[7:])
            msgid = None
    entries.pop('', None)
    return entries


def test_the_code_uses_strings():
    assert {'E-STOP', 'Home', 'Cartesian'} <= used_msgids()


@pytest.mark.parametrize('lang', sorted(LANGUAGES), ids=sorted(LANGUAGES))
def test_every_msgid_is_translated(lang):
    po = parse_po(LOCALE_DIR / lang / 'LC_MESSAGES' / f'{DOMAIN}.po')
    missing = sorted(m for m in used_msgids() if not po.get(m))
    assert not missing, f'untranslated in {lang}: {missing}'
    unused = sorted(set(po) - used_msgids())
    assert not unused, f'stale entries in {lang}: {unused}'


@pytest.mark.parametrize('lang', sorted(LANGUAGES), ids=sorted(LANGUAGES))
def test_mo_matches_po(lang):
    folder = LOCALE_DIR / lang / 'LC_MESSAGES'
    with open(folder / f'{DOMAIN}.mo', 'rb') as f:
        mo = gettext.GNUTranslations(f)
    for msgid, msgstr in parse_po(folder / f'{DOMAIN}.po').items():
        assert mo.gettext(msgid) == msgstr, f'{lang} .mo is stale for {msgid!r}: run msgfmt'


def test_vietnamese_placeholders_survive():
    po = parse_po(LOCALE_DIR / 'vi' / 'LC_MESSAGES' / f'{DOMAIN}.po')
    for msgid, msgstr in po.items():
        assert re.findall(r'{[^}]*}', msgid) == re.findall(r'{[^}]*}', msgstr), msgid


def test_translator_switches_and_rejects_unknown():
    t = Translator()
    t.set_language('vi')
    assert t.gettext('Home') == 'Về vị trí gốc'
    t.set_language('en')
    assert t.gettext('Home') == 'Home'
    with pytest.raises(ValueError, match='language must be one of'):
        t.set_language('fr')
    assert t.language == 'en'
