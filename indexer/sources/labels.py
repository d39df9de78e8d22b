"""Labels and their languages: one display string from a P3 language map or a P2.1 value, and a book's language.

P3 §4.4 gives labels as language maps, P2.1 §4.4 as strings, lists or `@value`/`@language`
objects; a book's OCR language comes from its `language`, else its label's languages.
"""

from __future__ import annotations

from typing import Any, Literal

from indexer.sources.json_values import JsonDict, as_list
from ocr.languages import tesseract_lang


def _language_values(value: Any) -> list[tuple[str | None, str]]:
    """(language, text) pairs of a P3 language map or a P2.1 string / list / @value object."""
    pairs: list[tuple[str | None, str]] = []
    if isinstance(value, str):
        pairs.append((None, value))
    elif isinstance(value, list):
        for item in value:
            pairs.extend(_language_values(item))
    elif isinstance(value, dict):
        if "@value" in value:  # P2.1 §4.4 {"@value": ..., "@language": ...}
            text = value.get("@value")
            language = value.get("@language")
            if isinstance(text, str):
                pairs.append((language if isinstance(language, str) else None, text))
        else:  # P3 §4.4 language map {"en": ["..."], "none": ["..."]}
            for language, texts in value.items():
                for text in as_list(texts):
                    if isinstance(text, str):
                        pairs.append((None if language in ("none", "@none") else language, text))
    return pairs


def label_text(value: Any) -> str | None:
    """One display string from a label: English first, then no-language, then the first.

    Several values in the chosen language are joined with '; '.
    >>> label_text({"de": ["Seite 1"], "en": ["Page 1"]})
    'Page 1'
    """
    pairs = [(lang, text.strip()) for lang, text in _language_values(value) if text.strip()]
    if not pairs:
        return None

    def chosen(match: Literal["en", "en-", "none"]) -> list[str]:
        if match == "en":
            return [text for lang, text in pairs if lang is not None and lang.lower() == "en"]
        if match == "en-":
            return [text for lang, text in pairs if lang is not None and lang.lower().startswith("en-")]
        return [text for lang, text in pairs if lang is None]

    for match in ("en", "en-", "none"):
        texts = chosen(match)
        if texts:
            return "; ".join(texts)
    first_language = pairs[0][0]
    return "; ".join(text for lang, text in pairs if lang == first_language)


def label_languages(value: Any) -> list[str]:
    """The language codes a label is given in (P3 map keys, P2.1 @language), without 'none'."""
    languages: list[str] = []
    for language, _ in _language_values(value):
        if language and language not in languages:
            languages.append(language)
    return languages


def book_language(data: JsonDict) -> str | None:
    """Tesseract language(s) of a manifest: its `language`, else the languages of its label."""
    declared = [code for code in as_list(data.get("language")) if isinstance(code, str)]
    return tesseract_lang(declared or label_languages(data.get("label")))
