"""ISO 639 / BCP 47 language codes -> Tesseract model names.

Manifests give languages as ISO 639 / BCP 47 codes ('de', 'ger', 'de-AT'); Tesseract wants
its model names ('deu'), joined with '+'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ISO 639-1 and 639-2/B codes -> Tesseract traineddata names (mostly ISO 639-2/T).
_TESSERACT_LANGS = {
    "af": "afr",
    "ar": "ara",
    "be": "bel",
    "bg": "bul",
    "bn": "ben",
    "bo": "bod",
    "ca": "cat",
    "cs": "ces",
    "cy": "cym",
    "da": "dan",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "eo": "epo",
    "es": "spa",
    "et": "est",
    "eu": "eus",
    "fa": "fas",
    "fi": "fin",
    "fr": "fra",
    "ga": "gle",
    "gd": "gla",
    "gl": "glg",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv",
    "hu": "hun",
    "hy": "hye",
    "id": "ind",
    "is": "isl",
    "it": "ita",
    "ja": "jpn",
    "ka": "kat",
    "ko": "kor",
    "la": "lat",
    "lt": "lit",
    "lv": "lav",
    "mt": "mlt",
    "nb": "nor",
    "nl": "nld",
    "nn": "nor",
    "no": "nor",
    "oc": "oci",
    "pl": "pol",
    "pt": "por",
    "ro": "ron",
    "ru": "rus",
    "sa": "san",
    "sk": "slk",
    "sl": "slv",
    "sq": "sqi",
    "sr": "srp",
    "sv": "swe",
    "ta": "tam",
    "th": "tha",
    "tr": "tur",
    "uk": "ukr",
    "ur": "urd",
    "vi": "vie",
    "yi": "yid",
    "zh": "chi_sim",
    # ISO 639-2/B (bibliographic) codes that library catalogues still use.
    "alb": "sqi",
    "arm": "hye",
    "baq": "eus",
    "chi": "chi_sim",
    "cze": "ces",
    "dut": "nld",
    "fre": "fra",
    "geo": "kat",
    "ger": "deu",
    "gre": "ell",
    "ice": "isl",
    "per": "fas",
    "rum": "ron",
    "slo": "slk",
    "tib": "bod",
    "wel": "cym",
    "zho": "chi_sim",
}
_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{1,8}))*$")


def tesseract_lang(codes: Iterable[str]) -> str | None:
    """Tesseract language names for ISO 639 / BCP 47 codes, joined with '+'.

    Codes we cannot map are kept when they look like ISO 639 (2-3 letters) and
    dropped when they do not (e.g. the 'true' key of a sloppy language map).
    >>> tesseract_lang(["en", "de-AT", "lat", "zh-Hant"])
    'eng+deu+lat+chi_tra'
    """
    names: list[str] = []
    for code in codes:
        match = _LANGUAGE_TAG.match(code.strip())
        if not match:
            continue
        primary = match.group(1).lower()
        if primary in ("zh", "chi", "zho") and re.search(r"(?i)[-_](hant|tw|hk|mo)\b", code):
            name = "chi_tra"
        else:
            name = _TESSERACT_LANGS.get(primary, primary)
        if name not in names:
            names.append(name)
    return "+".join(names) or None
