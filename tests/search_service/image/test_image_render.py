"""render(): exact output sizes, the right pyramid level, the validator image's colours, formats and qualities."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import pyvips
from PIL import Image

from search_service.image import render
from search_service.image.derivative import build_derivative
from search_service.image.plan import Limits, Plan, plan
from search_service.image.request import parse_image_path

ROOMY = Limits(10_000, 10_000, 40_000_000)


def plan_for(path: str, width: int, height: int) -> Plan:
    return plan(parse_image_path("i/" + path, "3.0"), width, height, ROOMY)


@pytest.fixture(scope="module")
def big_pyramid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6001 x 8001 source with odd edges, as a pyramid of five levels."""
    tmp = tmp_path_factory.mktemp("big")
    source = tmp / "big.jpg"
    xy = pyvips.Image.xyz(6001, 8001) % 256
    xy.bandjoin(xy[0] * 0 + 64).cast("uchar").copy(interpretation="srgb").jpegsave(str(source), Q=80)
    return build_derivative(source, tmp / "data")


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("0,0,512,512/512,512/0/default.jpg", (512, 512)),  # full-resolution tile
        ("4096,0,2048,2048/512,512/0/default.jpg", (512, 512)),  # scale factor 4
        ("4096,6144,1905,1857/477,465/0/default.jpg", (477, 465)),  # corner tile at scale factor 4
        ("5632,7680,369,321/369,321/0/default.jpg", (369, 321)),  # corner tile at full resolution
        ("full/375,500/0/default.jpg", (375, 500)),  # the smallest listed size
        ("full/,120/0/default.jpg", (90, 120)),  # a thumbnail
        ("full/333,777/0/default.jpg", (333, 777)),  # distorted
        ("pct:10,10,10,10/max/0/default.jpg", (600, 800)),
    ],
)
def test_output_sizes_are_exact(big_pyramid: Path, path: str, size: tuple[int, int]) -> None:
    body = render.render(plan_for(path, 6001, 8001), big_pyramid)
    with Image.open(io.BytesIO(body)) as image:
        assert (image.format, image.size) == ("JPEG", size)


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("0,0,512,512/512,512/0/default.jpg", 0),
        ("0,0,1024,1024/512,512/0/default.jpg", 1),
        ("4096,6144,1905,1857/477,465/0/default.jpg", 2),
        ("full/375,500/0/default.jpg", 4),
        ("full/,120/0/default.jpg", 4),
        ("full/3002,4001/0/default.jpg", 0),
    ],
)
def test_a_downscaled_request_reads_a_smaller_level(
    big_pyramid: Path, path: str, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    render.pyramid_levels(big_pyramid)  # cached before spying
    pages: list[int] = []
    original = pyvips.Image.tiffload

    def spy(filename: str, **kwargs: int) -> pyvips.Image:
        pages.append(kwargs["page"])
        return original(filename, **kwargs)

    monkeypatch.setattr(pyvips.Image, "tiffload", staticmethod(spy))
    render.render(plan_for(path, 6001, 8001), big_pyramid)
    assert pages == [page]


def test_the_validator_squares_keep_their_colours(validator_png: Path, tmp_path: Path) -> None:
    from iiif_validator.validator import ValidationInfo

    truth = ValidationInfo().colorInfo
    pyramid = build_derivative(validator_png, tmp_path / "data")
    for x, y in [(0, 0), (3, 7), (9, 9), (5, 2)]:
        body = render.render(plan_for(f"{x * 100 + 13},{y * 100 + 13},74,74/max/0/default.png", 1000, 1000), pyramid)
        with Image.open(io.BytesIO(body)) as image:
            r, g, b = image.convert("RGB").getpixel((37, 37))
        expected = truth[x][y]
        assert max(abs(r - expected[0]), abs(g - expected[1]), abs(b - expected[2])) < 6


def test_gray_and_png(validator_png: Path, tmp_path: Path) -> None:
    pyramid = build_derivative(validator_png, tmp_path / "data")
    body = render.render(plan_for("full/200,/0/gray.png", 1000, 1000), pyramid)
    assert body.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(body)) as image:
        assert (image.mode, image.size) == ("L", (200, 200))
