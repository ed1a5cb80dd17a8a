"""Every UI string is translated, and the compiled catalogs match their sources."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path
import re

import pytest
from robot_touch.ui.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, Translator

UI_DIR = Path(__file__).resolve().parents[2] / 'robot_touch' / 'ui'
# _('...') / N_("...") in Python and kv files (kv rules add `, app.lang`).
CALL = re.compile(r"""\bN?_\(\s*(['"])((?:\\.|(?!\1).)*)\1""")


def used_msgids() -> set[str]:
    ids: set[str] = set()
    for path in sorted(UI_DIR.rglob('*.py')) + sorted(UI_DIR.rglob('*.kv')):
        for m in CALL.finditer(path.read_text(encoding='utf-8')):
            ids.add(ast.literal_eval(m.group(1) + m.group(2) + m.group(1)))
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
