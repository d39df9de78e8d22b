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


# German's umlauts written out, as readers type them without the keys and as old print wrote them
# (a small e over the vowel, U+0364, which transcriptions give as ae/oe/ue).
_WRITTEN_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "\u0364": "e"})


def umlauts_written_out(text: str) -> str | None:
    """`text` with ä, ö, ü (and a vowel under a small e) spelled ae, oe, ue; None if it has none.

    >>> umlauts_written_out("ſchädlich"), umlauts_written_out("Stu\u0364kken"), umlauts_written_out("Kant")
    ('ſchaedlich', 'Stuekken', None)
    """
    composed = unicodedata.normalize("NFC", text)
    written = composed.translate(_WRITTEN_OUT)
    return written if written != composed else None


def tokens(text: str) -> list[str]:
    """The index tokens of a printed word or a query: 'Don't,' -> ['don', 't']."""
    return _TOKEN.findall(fold(text))
