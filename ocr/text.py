"""Turn printed words into the tokens the index matches on, and queries into the same.

One function for both sides, so a word is found exactly when the user types it:
NFKC, long s to s, diacritics folded, case folded, split on anything that is not a
letter or digit. The printed text is kept elsewhere for display.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"[^\W_]+")
# Characters NFKD does not split into base letter + mark, folded by hand.
_EXTRA_FOLDS = str.maketrans({"ſ": "s", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ı": "i"})


def fold(text: str) -> str:
    """Case- and accent-fold text: 'Ǽtienne Straße ſoll' -> 'aetienne strasse soll'."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_EXTRA_FOLDS)


def tokens(text: str) -> list[str]:
    """The index tokens of a printed word or a query: 'Don't,' -> ['don', 't']."""
    return _TOKEN.findall(fold(text))
