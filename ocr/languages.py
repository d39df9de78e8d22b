"""Language codes and scripts -> Tesseract model names, and what to install when a model is missing.

Manifests give languages as ISO 639 / BCP 47 codes ('de', 'ger', 'de-AT'); Tesseract wants
its model names ('deu'), joined with '+'. Tesseract's script detection (OSD, `--psm 0`)
names scripts ('Latin', 'Fraktur'), and a script has a model of its own: Tesseract calls it
`script/Fraktur`, Debian installs it as `Fraktur` (package tesseract-ocr-script-frak).
`model_for` picks the model of a book from its language and the script on its pages (#14).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from ocr.errors import MissingModel

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


#: OSD's name of the script of German (and Nordic, Baltic) books printed before ~1940.
FRAKTUR = "Fraktur"

#: Models for German printed in Fraktur, best first; the first one installed is used.
#: frak2021 and GT4HistOCR are UB Mannheim's models for historical print (not in Debian: put them in
#: --tessdata-dir); the others are Debian's, ranked by query-page recall on the shared books
#: (docs/search-quality.md): frk+Fraktur 0.690 > frk 0.667 > Fraktur 0.643 on Kant, deu 0.381.
GERMAN_FRAKTUR_MODELS = ("frak2021", "GT4HistOCR", "frk+Fraktur", "frk", "Fraktur")

# Languages whose books were often printed in Fraktur: only their books are worth asking OSD about.
# German has its own models (above); the others get the script model, which was trained on them too.
_FRAKTUR_LANGUAGES = frozenset({"deu", "frk", "dan", "nor", "swe", "fin", "est", "lav"})

# OSD's script names -> the ISO 15924 code in Debian's package name (tesseract-ocr-script-<code>).
_SCRIPT_PACKAGES = {
    "Arabic": "arab",
    "Armenian": "armn",
    "Bengali": "beng",
    "Cyrillic": "cyrl",
    "Devanagari": "deva",
    "Fraktur": "frak",
    "Georgian": "geor",
    "Greek": "grek",
    "HanS": "hans",
    "HanT": "hant",
    "Hangul": "hang",
    "Hebrew": "hebr",
    "Japanese": "jpan",
    "Latin": "latn",
    "Tamil": "taml",
    "Thai": "thai",
}
# Models that no Debian package ships, and where to get them.
_OTHER_MODELS = {
    "frak2021": "UB Mannheim's model for Fraktur, https://ub-backup.bib.uni-mannheim.de/~stweil/tesstrain/frak2021/",
    "GT4HistOCR": "UB Mannheim's model for historical print, https://ub-backup.bib.uni-mannheim.de/~stweil/tesstrain/GT4HistOCR/",
}


def may_be_fraktur(lang: str | None) -> bool:
    """Whether a book in these Tesseract languages may be printed in Fraktur (so its script is worth detecting).

    Unknown languages too: a German book whose manifest names no language is still German.
    >>> may_be_fraktur("deu"), may_be_fraktur("eng+fra"), may_be_fraktur(None)
    (True, False, True)
    """
    return lang is None or any(part in _FRAKTUR_LANGUAGES for part in lang.split("+"))


def model_for(lang: str | None, script: str | None, installed: Collection[str]) -> str:
    """The Tesseract model(s) for a book in `lang` (Tesseract names, None: unknown) printed in `script`.

    A Fraktur book's German (or unknown language) gets the first installed of
    GERMAN_FRAKTUR_MODELS, its Nordic or Baltic languages the Fraktur script model; other
    languages, and every book in another script, keep the language's model ('eng' when
    unknown). Without any Fraktur model installed, the language's model is kept.
    >>> model_for("deu", "Fraktur", {"deu", "frk", "Fraktur"})
    'frk+Fraktur'
    >>> model_for("deu+lat", "Fraktur", {"deu", "lat", "frk"})
    'frk+lat'
    >>> model_for("deu", "Latin", {"deu", "frk", "Fraktur"}), model_for(None, "Latin", {"eng"})
    ('deu', 'eng')
    """
    parts = lang.split("+") if lang else []
    if script != FRAKTUR:
        return lang or "eng"
    german = next((m for m in GERMAN_FRAKTUR_MODELS if _all_installed(m, installed)), None)
    script_model = installed_name(FRAKTUR, installed)
    chosen: list[str] = []
    for part in parts or ["deu"]:
        if part in ("deu", "frk") and german is not None:
            replacement = german.split("+")
        elif part in _FRAKTUR_LANGUAGES and script_model is not None:
            replacement = [script_model]
        else:
            replacement = [part]
        chosen += [name for name in replacement if name not in chosen]
    if not parts and german is None:
        return "eng"
    return "+".join(installed_name(name, installed) or name for name in chosen)


def installed_name(name: str, installed: Collection[str]) -> str | None:
    """How `installed` spells a model: itself, or a script model with or without its 'script/' folder.

    Tesseract's own data names the Fraktur script model `script/Fraktur`; Debian installs it
    as `Fraktur`. Either spelling finds either file.
    >>> installed_name("script/Fraktur", {"deu", "Fraktur"}), installed_name("Fraktur", {"script/Fraktur"})
    ('Fraktur', 'script/Fraktur')
    """
    if name in installed:
        return name
    other = name.removeprefix("script/") if name.startswith("script/") else f"script/{name}"
    return other if other in installed else None


def resolve(lang: str, installed: Collection[str], folder: str = "") -> str:
    """`lang` ('deu+script/Fraktur') with each model spelled as installed; MissingModel naming what to install.

    >>> resolve("deu+script/Fraktur", {"deu", "Fraktur"})
    'deu+Fraktur'
    """
    names = [name for name in lang.split("+") if name]
    found = [installed_name(name, installed) for name in names]
    missing = [name for name, spelled in zip(names, found, strict=True) if spelled is None]
    if missing or not names:
        raise MissingModel(missing or [lang], folder, install_hint(missing or [lang]), sorted(installed))
    return "+".join(name for name in found if name is not None)


def install_hint(names: Iterable[str]) -> str:
    """What to do to get these models: the Debian packages, or where to find the others.

    >>> install_hint(["frk", "script/Fraktur"])
    'install tesseract-ocr-frk tesseract-ocr-script-frak'
    """
    packages: list[str] = []
    others: list[str] = []
    for name in names:
        package = debian_package(name)
        if package is not None:
            packages.append(package)
        else:
            where = _OTHER_MODELS.get(name, "not packaged by Debian")
            others.append(f"put {name}.traineddata ({where}) in --tessdata-dir")
    hints = ([f"install {' '.join(packages)}"] if packages else []) + others
    return "; ".join(hints)


def debian_package(name: str) -> str | None:
    """The Debian package of a Tesseract model, or None when Debian has none.

    >>> debian_package("chi_sim"), debian_package("Fraktur"), debian_package("frak2021")
    ('tesseract-ocr-chi-sim', 'tesseract-ocr-script-frak', None)
    """
    script = name.removeprefix("script/")
    if script in _SCRIPT_PACKAGES:
        return f"tesseract-ocr-script-{_SCRIPT_PACKAGES[script]}"
    if re.fullmatch(r"[a-z]{3}(_[a-z]+)*", name):
        return f"tesseract-ocr-{name.replace('_', '-')}"
    return None


def _all_installed(models: str, installed: Collection[str]) -> bool:
    return all(installed_name(name, installed) is not None for name in models.split("+"))
