"""
Translations of the touch UI (gettext catalogs in ``robot_touch/ui/locale``), switchable live.

Python code wraps each shown string in ``_``. Kv rules also pass ``app.lang`` as a second
argument: it is ignored, but naming it makes Kivy re-evaluate the rule when the language
changes.
Strings defined before they are shown (tables of status texts) are marked with ``N_`` and
translated where displayed.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Any

DOMAIN = 'robot_touch'
LOCALE_DIR = Path(__file__).resolve().parent / 'locale'
#: Language code → its name in that language (shown as is, never translated).
LANGUAGES = {'en': 'English', 'vi': 'Tiếng Việt'}


class Translator:
    """The current gettext catalog."""

    def __init__(self) -> None:
        self.language = 'en'
        self._catalog: gettext.NullTranslations = gettext.NullTranslations()
        self.set_language('en')

    def set_language(self, language: str) -> None:
        """Switch to ``language`` (a key of :data:`LANGUAGES`); ValueError for others."""
        if language not in LANGUAGES:
            raise ValueError(f'language must be one of {", ".join(LANGUAGES)}, got {language!r}')
        self._catalog = gettext.translation(
            DOMAIN, str(LOCALE_DIR), languages=[language], fallback=True
        )
        self.language = language

    def gettext(self, message: str) -> str:
        return self._catalog.gettext(message)


translator = Translator()


def _(message: str, *_rebind: Any) -> str:
    """``message`` in the current language (extra arguments only serve Kivy's rebinding)."""
    return translator.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it yet."""
    return message
