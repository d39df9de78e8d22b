"""ocr/cache.py: keys are a pure function of image, settings and version; entries are atomic."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from ocr.cache import OcrCache, key_for
from ocr.model import OcrSettings

HOCR = b"<html><body><div class='ocr_page' title='bbox 0 0 10 10'></div></body></html>\n"
VERSION = "tesseract 5.3.0"


def test_key_is_stable_and_names_what_decides_the_ocr() -> None:
    base = key_for(b"image", OcrSettings(), VERSION)
    assert base == key_for(b"image", OcrSettings(), VERSION)
    assert len(base) == 64 and int(base, 16) >= 0
    changed = [
        key_for(b"image2", OcrSettings(), VERSION),
        key_for(b"image", OcrSettings(lang="deu"), VERSION),
        key_for(b"image", OcrSettings(psm=6), VERSION),
        key_for(b"image", OcrSettings(oem=0), VERSION),
        key_for(b"image", OcrSettings(extra=("-c", "preserve_interword_spaces=1")), VERSION),
        key_for(b"image", OcrSettings(), "tesseract 5.4.1"),
    ]
    assert base not in changed and len(set(changed)) == len(changed)
    # The timeout changes how long we wait, not what Tesseract returns.
    assert key_for(b"image", OcrSettings(timeout=5), VERSION) == base


def test_the_passes_that_find_the_choices_change_the_key_and_asking_for_them_does_not() -> None:
    """#21: lstm_choice_iterations changes which choices an entry holds; unset, pages cached before keep their key."""
    base = key_for(b"image", OcrSettings(), VERSION)
    one, two = (key_for(b"image", OcrSettings(choice_iterations=n), VERSION) for n in (1, 2))
    assert len({base, one, two}) == 3
    # Without the choices the passes are never made: the key of the words alone.
    assert key_for(b"image", OcrSettings(choices=False, choice_iterations=2), VERSION) == base
    assert key_for(b"image", OcrSettings(choices=False), VERSION) == base


def test_digest_or_bytes_give_the_same_key() -> None:
    digest = hashlib.sha256(b"image").hexdigest()
    assert key_for(digest, OcrSettings(), VERSION) == key_for(b"image", OcrSettings(), VERSION)
    assert key_for(digest.upper(), OcrSettings(), VERSION) == key_for(b"image", OcrSettings(), VERSION)


@pytest.mark.parametrize("bad", ["page-0001.png", "", "../" * 20])
def test_a_path_is_not_a_digest(bad: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        key_for(bad, OcrSettings(), VERSION)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")
def test_default_version_is_the_installed_tesseract() -> None:
    from ocr.tesseract import tesseract_version

    assert key_for(b"image", OcrSettings()) == key_for(b"image", OcrSettings(), tesseract_version())


def test_put_then_get(tmp_path: Path) -> None:
    cache = OcrCache(tmp_path)
    key = OcrCache.key_for(b"image", OcrSettings(), VERSION)
    assert cache.get(key) is None
    path = cache.put(key, HOCR)
    assert path == tmp_path / key[:2] / f"{key}.hocr"
    assert cache.get(key) == HOCR
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    # Overwriting is allowed and leaves no temporary files behind.
    cache.put(key, HOCR.replace(b"10 10", b"20 20"))
    assert b"20 20" in (cache.get(key) or b"")
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


@pytest.mark.parametrize("damage", [b"", b"\n", HOCR[:40], HOCR + b"<div>"])
def test_damaged_entries_are_misses(tmp_path: Path, damage: bytes) -> None:
    cache = OcrCache(tmp_path)
    key = key_for(b"image", OcrSettings(), VERSION)
    cache.put(key, HOCR)
    cache.path_for(key).write_bytes(damage)
    assert cache.get(key) is None


def test_put_refuses_incomplete_hocr(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="complete"):
        OcrCache(tmp_path).put(key_for(b"x", OcrSettings(), VERSION), HOCR[:50])


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab", "A" * 64, "g" * 64])
def test_keys_are_checked_before_touching_disk(tmp_path: Path, bad: str) -> None:
    cache = OcrCache(tmp_path)
    with pytest.raises(ValueError, match="cache key"):
        cache.get(bad)
    with pytest.raises(ValueError, match="cache key"):
        cache.put(bad, HOCR)


def test_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = OcrCache(tmp_path)
    key = key_for(b"image", OcrSettings(), VERSION)

    def broken_replace(source: str, target: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.put(key, HOCR)
    assert list(cache.path_for(key).parent.iterdir()) == []
    assert cache.get(key) is None


def test_a_file_where_the_shard_folder_should_be_is_a_miss(tmp_path: Path) -> None:
    key = key_for(b"image", OcrSettings(), VERSION)
    (tmp_path / key[:2]).write_bytes(b"in the way")
    assert OcrCache(tmp_path).get(key) is None


def test_script_detections_are_kept_beside_the_hocr(tmp_path: Path) -> None:
    """#14: the OSD of a sampled page is cached too (kind "osd"), so a re-run asks Tesseract nothing."""
    cache = OcrCache(tmp_path)
    key = key_for(b"image", OcrSettings(lang="osd", psm=0), VERSION)
    osd = b"Orientation in degrees: 0\nScript: Fraktur\nScript confidence: 4.91\n"
    assert cache.get(key, "osd") is None
    assert cache.put(key, osd, "osd") == tmp_path / key[:2] / f"{key}.osd"
    assert cache.get(key, "osd") == osd
    assert cache.get(key) is None  # no hOCR under that key
    cache.path_for(key, "osd").write_bytes(osd[:30])
    assert cache.get(key, "osd") is None
    with pytest.raises(ValueError, match="complete OSD"):
        cache.put(key, b"Script: Fraktur\n", "osd")
