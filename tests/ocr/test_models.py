"""ocr/models.py and the cache key: the models a run reads count by their files' content (#14)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from ocr.cache import key_for
from ocr.errors import MissingModel, OcrError
from ocr.model import OcrSettings
from ocr.models import file_digest, model_files, model_names, models_digest

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")

VERSION = "tesseract 5.3.0"


@pytest.fixture(scope="module")
def installed() -> Path:
    from ocr.tesseract import tessdata_path

    return tessdata_path()


def _folder(root: Path, name: str, models: dict[str, Path]) -> Path:
    """A model folder holding copies of real model files under the given names."""
    folder = root / name
    folder.mkdir()
    for model, source in models.items():
        (folder / f"{model}.traineddata").parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / f"{model}.traineddata")
    return folder


def test_the_models_a_run_reads() -> None:
    assert model_names(OcrSettings(lang="frk+Fraktur")) == ["frk", "Fraktur"]
    assert model_names(OcrSettings(lang="deu", psm=1)) == ["deu", "osd"]  # psm 1 runs OSD first
    assert model_names(OcrSettings(lang="osd", psm=0)) == ["osd"]


def test_digests_are_of_the_files_content(installed: Path) -> None:
    digest = models_digest(OcrSettings(lang="deu+Fraktur"))
    expected = hashlib.sha256((installed / "Fraktur.traineddata").read_bytes()).hexdigest()
    assert digest.startswith("deu=") and digest.endswith(f";Fraktur={expected}")
    assert model_files(OcrSettings(lang="deu")) == [installed / "deu.traineddata"]


def test_a_changed_model_changes_the_key_and_a_moved_one_does_not(tmp_path: Path, installed: Path) -> None:
    first = _folder(tmp_path, "first", {"eng": installed / "eng.traineddata"})
    same = _folder(tmp_path, "same-file-elsewhere", {"eng": installed / "eng.traineddata"})
    other = _folder(tmp_path, "other-model-same-name", {"eng": installed / "deu.traineddata"})

    def key(folder: Path) -> str:
        return key_for(b"image", OcrSettings(lang="eng", tessdata_dir=str(folder)), VERSION)

    assert key(first) == key(same) == key_for(b"image", OcrSettings(lang="eng"), VERSION)
    assert key(other) != key(first)
    # A model replaced in place (same path, new content) is hashed again.
    before = key(first)
    shutil.copyfile(installed / "fra.traineddata", first / "eng.traineddata")
    os.utime(first / "eng.traineddata", ns=(1, 1))  # even with an mtime that went backwards
    assert key(first) != before
    assert file_digest(first / "eng.traineddata") == file_digest(installed / "fra.traineddata")


def test_a_missing_model_names_itself_and_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(MissingModel) as error:
        key_for(b"image", OcrSettings(lang="eng+frk", tessdata_dir=str(tmp_path)), VERSION)
    assert isinstance(error.value, OcrError)
    assert error.value.names == ["eng", "frk"]
    assert f"in {tmp_path}" in str(error.value) and "install tesseract-ocr-eng tesseract-ocr-frk" in str(error.value)


def test_given_digests_read_no_model_files(tmp_path: Path) -> None:
    """A worker can be handed the digests; then the key needs no model folder at all."""
    settings = OcrSettings(lang="eng", tessdata_dir=str(tmp_path / "nowhere"))
    keys = {key_for(b"image", settings, VERSION, models=f"eng={digest}") for digest in ("00", "01")}
    assert len(keys) == 2
