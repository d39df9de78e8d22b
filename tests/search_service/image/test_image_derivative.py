"""Pyramid TIFF derivatives: shape, cache key, rebuild on change, one build under concurrency, bombs refused."""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import pyvips
from PIL import Image

from search_service.errors import SizeAboveLimits, UnknownImage
from search_service.image import render
from search_service.image.derivative import build_derivative, derivative_path, source_info

TIFF_TILE_WIDTH = 322  # TIFF tag numbers
TIFF_TILE_LENGTH = 323


@pytest.fixture
def source(tmp_path: Path, image_root: Path) -> Path:
    """A private copy of the colour JPEG (1300 x 700), free to touch."""
    path = tmp_path / "scans" / "page.jpg"
    path.parent.mkdir()
    shutil.copy(image_root / "color.jpg", path)
    return path


def test_a_derivative_is_a_tiled_jpeg_pyramid(source: Path, tmp_path: Path) -> None:
    pyramid = build_derivative(source, tmp_path / "data")
    assert pyramid.is_relative_to(tmp_path / "data" / "derivatives")
    assert render.pyramid_levels(pyramid) == ((1300, 700), (650, 350), (325, 175))
    with Image.open(pyramid) as tiff:
        assert tiff.info["compression"] == "jpeg"
        assert (tiff.tag_v2[TIFF_TILE_WIDTH], tiff.tag_v2[TIFF_TILE_LENGTH]) == (512, 512)


def test_a_derivative_is_built_once(source: Path, tmp_path: Path) -> None:
    first = build_derivative(source, tmp_path / "data")
    built_at = first.stat().st_mtime_ns
    assert build_derivative(source, tmp_path / "data") == first
    assert first.stat().st_mtime_ns == built_at


def test_a_changed_source_gets_a_new_derivative_and_the_old_one_goes(source: Path, tmp_path: Path) -> None:
    old = build_derivative(source, tmp_path / "data")
    pyvips.Image.black(64, 48).jpegsave(str(source))
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    new = build_derivative(source, tmp_path / "data")
    assert new != old and not old.exists()
    assert render.pyramid_levels(new) == ((64, 48),)


def test_the_key_is_the_resolved_path(source: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(source)
    assert derivative_path(link, tmp_path / "data") == derivative_path(source, tmp_path / "data")


def test_concurrent_first_requests_build_once(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = render.write_pyramid
    start = threading.Barrier(8)

    def counting(src: Path, dest: Path, tile: int) -> None:
        calls.append(dest)
        original(src, dest, tile)

    monkeypatch.setattr(render, "write_pyramid", counting)

    def build(_: int) -> Path:
        start.wait()
        return build_derivative(source, tmp_path / "data")

    with ThreadPoolExecutor(8) as pool:
        results = set(pool.map(build, range(8)))
    assert len(results) == 1 and len(calls) == 1
    pyramid = results.pop()
    assert render.pyramid_levels(pyramid)[0] == (1300, 700)
    # Only the derivative is left: no temporary file, no lock file.
    assert [p.name for p in pyramid.parent.iterdir()] == [pyramid.name]


def test_a_failed_build_leaves_nothing(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(src: Path, dest: Path, tile: int) -> None:
        dest.write_bytes(b"II*\x00 half a file")
        raise UnknownImage("disk full, say")

    monkeypatch.setattr(render, "write_pyramid", broken)
    with pytest.raises(UnknownImage):
        build_derivative(source, tmp_path / "data")
    leftovers = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_bomb_is_measured_not_decoded(image_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = image_root / "bomb.png"
    assert bomb.stat().st_size < 1_000_000  # 900 Mpx in under a megabyte
    monkeypatch.setattr(render, "write_pyramid", lambda *args: pytest.fail("the bomb was decoded"))
    with pytest.raises(SizeAboveLimits, match="30000x30000"):
        build_derivative(bomb, tmp_path / "data", max_pixels=300_000_000)
    with pytest.raises(SizeAboveLimits):
        source_info(bomb, 300_000_000)
    assert source_info(bomb, 30_000 * 30_000).width == 30_000


def test_sixteen_bit_grey_with_alpha_becomes_eight_bit_grey(image_root: Path, tmp_path: Path) -> None:
    pyramid = build_derivative(image_root / "grey16.png", tmp_path / "data")
    level = pyvips.Image.tiffload(str(pyramid), page=0)
    assert (level.width, level.height, level.bands, level.format) == (600, 400, 1, "uchar")
    assert source_info(image_root / "grey16.png").color is False
    assert source_info(image_root / "color.jpg").color is True


def test_a_file_that_is_no_image_is_unknown(tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("hello")
    with pytest.raises(UnknownImage) as caught:
        build_derivative(fake, tmp_path / "data")
    assert str(tmp_path) not in caught.value.message
