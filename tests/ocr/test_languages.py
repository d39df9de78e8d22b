"""ocr/languages.py: manifest languages -> Tesseract models."""

from __future__ import annotations

import pytest

from ocr.languages import tesseract_lang


@pytest.mark.parametrize(
    ("codes", "expected"),
    [
        (["en"], "eng"),
        (["de"], "deu"),
        (["fr"], "fra"),
        (["la"], "lat"),
        (["deu", "lat"], "deu+lat"),
        (["en-GB", "en"], "eng"),
        (["ger", "fre"], "deu+fra"),
        (["zh-Hant"], "chi_tra"),
        (["zh"], "chi_sim"),
        (["true"], None),  # Princeton's label map uses "true" as a key
        ([], None),
        (["xx"], "xx"),
    ],
)
def test_tesseract_lang(codes: list[str], expected: str | None) -> None:
    assert tesseract_lang(codes) == expected
