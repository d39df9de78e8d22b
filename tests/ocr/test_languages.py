"""ocr/languages.py: manifest languages and detected scripts -> Tesseract models, and install hints."""

from __future__ import annotations

import pytest

from ocr.errors import MissingModel, OcrError
from ocr.languages import (
    GERMAN_FRAKTUR_MODELS,
    debian_package,
    install_hint,
    installed_name,
    may_be_fraktur,
    model_for,
    resolve,
    tesseract_lang,
)

DEBIAN = frozenset({"deu", "eng", "fra", "lat", "osd", "frk", "Fraktur"})  # what scripts/setup installs


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


@pytest.mark.parametrize(
    ("lang", "script", "installed", "expected"),
    [
        ("deu", "Fraktur", DEBIAN, "frk+Fraktur"),  # the measured best of Debian's (docs/search-quality.md)
        ("deu", "Latin", DEBIAN, "deu"),  # Antiqua keeps the language's model
        ("deu", None, DEBIAN, "deu"),  # nothing detected: as before
        ("eng", "Fraktur", DEBIAN, "eng"),  # English was not printed in Fraktur; OSD is wrong then
        (None, "Fraktur", DEBIAN, "frk+Fraktur"),  # no language given: Fraktur print is German first
        (None, "Latin", DEBIAN, "eng"),
        ("deu+lat", "Fraktur", DEBIAN, "frk+Fraktur+lat"),
        ("dan", "Fraktur", DEBIAN | {"dan"}, "Fraktur"),  # the script model, trained on Nordic Fraktur too
        ("deu", "Fraktur", DEBIAN | {"frak2021"}, "frak2021"),  # the user's better model comes first
        ("deu", "Fraktur", {"deu", "eng", "osd", "frk"}, "frk"),
        ("deu", "Fraktur", {"deu", "eng", "osd", "script/Fraktur"}, "script/Fraktur"),  # Tesseract's own layout
        ("deu", "Fraktur", {"deu", "eng", "osd"}, "deu"),  # no Fraktur model at all: the language's
        (None, "Fraktur", {"eng", "osd"}, "eng"),
    ],
)
def test_model_for(lang: str | None, script: str | None, installed: frozenset[str], expected: str) -> None:
    assert model_for(lang, script, installed) == expected


def test_german_fraktur_models_start_with_the_better_ones() -> None:
    assert GERMAN_FRAKTUR_MODELS[:2] == ("frak2021", "GT4HistOCR")
    assert GERMAN_FRAKTUR_MODELS[2] == "frk+Fraktur"


@pytest.mark.parametrize(
    ("lang", "expected"), [("deu", True), ("dan+eng", True), (None, True), ("eng", False), ("fra+lat", False)]
)
def test_may_be_fraktur(lang: str | None, expected: bool) -> None:
    assert may_be_fraktur(lang) is expected


def test_script_models_are_found_under_either_spelling() -> None:
    assert installed_name("Fraktur", DEBIAN) == "Fraktur"
    assert installed_name("script/Fraktur", DEBIAN) == "Fraktur"
    assert installed_name("Fraktur", {"script/Fraktur"}) == "script/Fraktur"
    assert installed_name("frk", {"deu"}) is None
    assert resolve("script/Fraktur", DEBIAN) == "Fraktur"
    assert resolve("deu+script/Fraktur", DEBIAN) == "deu+Fraktur"
    assert resolve("frk", DEBIAN) == "frk"


def test_a_missing_model_says_what_to_install() -> None:
    with pytest.raises(MissingModel) as error:
        resolve("deu+script/Latin+xyz", DEBIAN, "/usr/share/tesseract-ocr/5/tessdata")
    assert isinstance(error.value, OcrError)
    assert error.value.names == ["script/Latin", "xyz"]
    message = str(error.value)
    assert "no model for script/Latin, xyz in /usr/share/tesseract-ocr/5/tessdata" in message
    assert "install tesseract-ocr-script-latn tesseract-ocr-xyz" in message
    assert "(installed: Fraktur, deu, eng, fra, frk, lat, osd)" in message
    with pytest.raises(MissingModel, match=r"frak2021\.traineddata .*uni-mannheim.* in --tessdata-dir"):
        resolve("frak2021", DEBIAN)
    with pytest.raises(MissingModel):
        resolve("+", DEBIAN)


@pytest.mark.parametrize(
    ("name", "package"),
    [
        ("frk", "tesseract-ocr-frk"),
        ("Fraktur", "tesseract-ocr-script-frak"),
        ("script/Fraktur", "tesseract-ocr-script-frak"),
        ("chi_tra", "tesseract-ocr-chi-tra"),
        ("GT4HistOCR", None),
        ("frak2021", None),
    ],
)
def test_debian_package(name: str, package: str | None) -> None:
    assert debian_package(name) == package
    if package is not None:
        assert install_hint([name]) == f"install {package}"
