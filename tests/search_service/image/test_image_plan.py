"""The plan arithmetic, without any image: the spec's region and size examples (3.0 §4.1, §4.2), limits, tiles, levels.

The examples of §4.1 and §4.2 are drawn on a 300 x 200 image (region example 5
"Returned image is 175,185 px", size example 6 "Returned image is 150,100 px").
"""

from __future__ import annotations

import pytest

from search_service.errors import ImageRequestError, NotImplementedFeature, ServiceError, SizeAboveLimits
from search_service.image.plan import (
    Limits,
    Plan,
    choose_level,
    level_box,
    max_size,
    plan,
    preferred_sizes,
    scale_factors,
    tile_size,
)
from search_service.image.request import ApiVersion, parse_image_path

ROOMY = Limits(10_000, 10_000, 40_000_000)


def plan_of(
    path: str, width: int = 300, height: int = 200, limits: Limits = ROOMY, version: ApiVersion = "3.0"
) -> Plan:
    return plan(parse_image_path("i/" + path, version), width, height, limits)


def refused(
    path: str, width: int = 300, height: int = 200, limits: Limits = ROOMY, version: ApiVersion = "3.0"
) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        plan_of(path, width, height, limits, version)
    return caught.value


@pytest.mark.parametrize(
    ("region", "box"),
    [
        ("full", (0, 0, 300, 200)),
        ("square", (50, 0, 200, 200)),
        ("125,15,120,140", (125, 15, 120, 140)),
        ("pct:41.6,7.5,40,70", (125, 15, 120, 140)),
        ("125,15,200,200", (125, 15, 175, 185)),  # example 5: cut at the edge
        ("pct:41.6,7.5,66.6,100", (125, 15, 175, 185)),  # example 6
        ("299,199,5,5", (299, 199, 1, 1)),
    ],
)
def test_spec_4_1_region_examples(region: str, box: tuple[int, int, int, int]) -> None:
    p = plan_of(f"{region}/max/0/default.jpg")
    assert (p.x, p.y, p.w, p.h) == box
    assert (p.width, p.height) == box[2:]


def test_square_of_a_tall_image_is_centred() -> None:
    p = plan_of("square/max/0/default.jpg", 200, 301)
    assert (p.x, p.y, p.w, p.h) == (0, 50, 200, 200)


@pytest.mark.parametrize(
    "region",
    ["125,15,0,10", "125,15,10,0", "300,0,10,10", "0,200,10,10", "pct:100,0,10,10", "pct:0,0,0.1,10", "pct:0,0,0,10"],
)
def test_zero_or_outside_regions_are_400(region: str) -> None:
    error = refused(f"{region}/max/0/default.jpg")
    assert isinstance(error, ImageRequestError)
    assert (error.status, error.parameter) == (400, "region")


@pytest.mark.parametrize(
    ("size", "out"),
    [
        ("max", (300, 200)),
        ("150,", (150, 100)),  # example 2
        (",150", (225, 150)),  # example 3
        ("pct:50", (150, 100)),  # example 4
        ("225,100", (225, 100)),  # example 5: distorts
        ("!225,100", (150, 100)),  # example 6: "Returned image is 150,100 px"
        ("^150,", (150, 100)),  # `^` that needs no upscaling is served
        ("^!150,150", (150, 100)),
        ("300,200", (300, 200)),
        ("1,", (1, 1)),
        (",1", (2, 1)),  # 1.5 rounds half up
    ],
)
def test_spec_4_2_size_examples(size: str, out: tuple[int, int]) -> None:
    p = plan_of(f"full/{size}/0/default.jpg")
    assert (p.width, p.height) == out


@pytest.mark.parametrize("size", ["^max", "^360,", "^,240", "^pct:120", "^360,360", "^!360,360", "^301,200"])
def test_upscaling_with_caret_is_501(size: str) -> None:
    error = refused(f"full/{size}/0/default.jpg")
    assert isinstance(error, NotImplementedFeature)
    assert (error.status, error.parameter) == (501, "size")


@pytest.mark.parametrize("size", ["360,", ",240", "pct:120", "301,200"])
def test_upscaling_without_caret_is_400_in_3_0(size: str) -> None:
    # §4.2: "Requests for sizes not prefixed with ^ that result in a scaled region with pixel
    # dimensions greater than the pixel dimensions of the extracted region are errors".
    error = refused(f"full/{size}/0/default.jpg")
    assert isinstance(error, ImageRequestError)
    assert error.parameter == "size"


@pytest.mark.parametrize("version", ["3.0", "2.1"])
@pytest.mark.parametrize(
    ("path", "out", "canonical"),
    [
        # Smaller than the region: scaled down to fit, aspect ratio kept.
        ("full/!225,100/0/default.jpg", (150, 100), {"3.0": "150,100", "2.1": "150,"}),
        ("100,50,80,40/!20,20/0/default.jpg", (20, 10), {"3.0": "20,10", "2.1": "20,"}),
        # Larger than the region: the region at its own size, never upscaled and never a 400
        # (3.0 §4.2 "as large as possible but not larger than the extracted region"): Clover
        # asks `!100,50` of each hit's word box for its thumbnail (#12).
        ("full/!360,360/0/default.jpg", (300, 200), {"3.0": "max", "2.1": "full"}),
        ("full/!2000,3000/0/default.jpg", (300, 200), {"3.0": "max", "2.1": "full"}),
        ("100,50,40,25/!100,63/0/default.jpg", (40, 25), {"3.0": "max", "2.1": "full"}),
        ("290,190,50,50/!100,100/0/default.jpg", (10, 10), {"3.0": "max", "2.1": "full"}),  # cut at the edge first
        ("100,50,40,25/!40,100/0/default.jpg", (40, 25), {"3.0": "max", "2.1": "full"}),  # one side exactly
    ],
)
def test_confined_size_is_never_larger_than_the_region(
    path: str, out: tuple[int, int], canonical: dict[str, str], version: ApiVersion
) -> None:
    p = plan_of(path, version=version)
    assert (p.width, p.height) == out
    assert p.canonical.split("/")[1] == canonical[version]


def test_confined_size_keeps_within_the_limits() -> None:
    # 3.0 §4.2: "... or server-imposed limits": the best fit within them, not a 404.
    p = plan_of("full/!1000,1000/0/default.jpg", limits=Limits(200, 10_000, 10**9))
    assert (p.width, p.height) == (200, 133)


def test_caret_confined_above_the_region_is_still_501() -> None:
    error = refused("100,50,40,25/^!100,63/0/default.jpg")
    assert isinstance(error, NotImplementedFeature)
    assert (error.status, error.parameter) == (501, "size")
    assert (plan_of("100,50,40,25/^!20,20/0/default.jpg").width, 20) == (20, 20)


def test_version_2_1_sizes() -> None:
    assert (plan_of("full/full/0/default.jpg", version="2.1").width, 300) == (300, 300)
    # 2.1 `!w,h` is a best fit; without sizeAboveFull the best is the region's own size.
    p = plan_of("full/!360,360/0/default.jpg", version="2.1")
    assert (p.width, p.height) == (300, 200)
    error = refused("full/360,/0/default.jpg", version="2.1")
    assert (error.status, error.parameter) == (501, "size")


@pytest.mark.parametrize("size", ["0,", ",0", "pct:0", "0,10", "!0,10"])
def test_zero_sizes_are_400(size: str) -> None:
    error = refused(f"full/{size}/0/default.jpg")
    assert (error.status, error.parameter) == (400, "size")


def test_a_size_that_rounds_to_zero_is_400() -> None:
    error = refused("full/10,/0/default.jpg", 1000, 1)
    assert (error.status, error.parameter) == (400, "size")


def test_max_keeps_within_every_limit() -> None:
    assert max_size(300, 200, Limits(200, 10_000, 10**9)) == (200, 133)
    assert max_size(300, 200, Limits(10_000, 100, 10**9)) == (150, 100)
    w, h = max_size(300, 200, Limits(10_000, 10_000, 30_000))
    assert (w, h) == (212, 141) and w * h <= 30_000
    assert max_size(300, 200, ROOMY) == (300, 200)


def test_max_and_caret_max_under_limits() -> None:
    limits = Limits(200, 200, 10**9)
    assert (plan_of("full/max/0/default.jpg", limits=limits).width, 133) == (200, 133)
    # `^max` asks for the limits; they are below the image here, so nothing is upscaled.
    p = plan_of("full/^max/0/default.jpg", limits=limits)
    assert (p.width, p.height) == (200, 133)
    exact = Limits(300, 300, 10**9)
    assert (plan_of("full/^max/0/default.jpg", limits=exact).width, 300) == (300, 300)


@pytest.mark.parametrize(
    ("size", "limits"),
    [
        ("250,", Limits(200, 10_000, 10**9)),
        (",150", Limits(10_000, 100, 10**9)),
        ("300,200", Limits(10_000, 10_000, 59_999)),
        ("pct:100", Limits(299, 10_000, 10**9)),
    ],
)
def test_sizes_above_the_limits_are_404(size: str, limits: Limits) -> None:
    # 3.0 §7.3 lists "the requested size is greater than the limits specified" under 404.
    error = refused(f"full/{size}/0/default.jpg", limits=limits)
    assert isinstance(error, SizeAboveLimits)
    assert error.status == 404


def test_2_1_full_above_the_limits_is_404() -> None:
    error = refused("full/full/0/default.jpg", limits=Limits(100, 100, 10**9), version="2.1")
    assert error.status == 404


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("full/max/90/default.jpg", "rotation"),
        ("full/max/!0/default.jpg", "rotation"),
        ("full/max/22.5/default.png", "rotation"),
        ("full/max/0/bitonal.jpg", "quality"),
        ("full/max/0/default.tif", "format"),
        ("full/max/0/default.webp", "format"),
    ],
)
def test_valid_but_unsupported_parameters_are_400(path: str, parameter: str) -> None:
    # 3.0 §4.3, §4.4, §4.5: unsupported rotation, quality and format values SHOULD be 400.
    error = refused(path)
    assert isinstance(error, ImageRequestError)
    assert error.parameter == parameter


def test_supported_extras() -> None:
    assert plan_of("full/max/0/gray.png").quality == "gray"
    assert plan_of("full/max/0/color.jpg").format == "jpg"
    assert plan_of("full/max/360/default.jpg").canonical == "full/max/0/default.jpg"


@pytest.mark.parametrize(
    ("path", "version", "canonical"),
    [
        ("full/max/0/default.jpg", "3.0", "full/max/0/default.jpg"),
        ("0,0,300,200/300,/0/default.jpg", "3.0", "full/max/0/default.jpg"),
        ("full/150,/0/default.jpg", "3.0", "full/150,100/0/default.jpg"),
        ("pct:41.6,7.5,40,70/pct:50/0/gray.png", "3.0", "125,15,120,140/60,70/0/gray.png"),
        ("full/full/0/default.jpg", "2.1", "full/full/0/default.jpg"),
        ("full/max/0/default.jpg", "2.1", "full/full/0/default.jpg"),
        ("full/150,100/0/default.jpg", "2.1", "full/150,/0/default.jpg"),
        ("full/150,50/0/default.jpg", "2.1", "full/150,50/0/default.jpg"),
        ("square/max/0/color.jpg", "2.1", "50,0,200,200/full/0/color.jpg"),
    ],
)
def test_canonical_forms(path: str, version: ApiVersion, canonical: str) -> None:
    # 3.0 §4.8 and 2.1 §4.7: region full or x,y,w,h; size max / w,h (3.0), full / w, / w,h (2.1).
    assert plan_of(path, version=version).canonical == canonical


def test_canonical_max_under_limits() -> None:
    limits = Limits(200, 10_000, 10**9)
    assert plan_of("full/200,/0/default.jpg", limits=limits).canonical == "full/max/0/default.jpg"


def test_tile_size_stays_within_the_limits() -> None:
    assert tile_size(ROOMY) == 512
    assert tile_size(Limits(300, 10_000, 10**9)) == 300
    assert tile_size(Limits(10_000, 10_000, 90_000)) == 300


@pytest.mark.parametrize(
    ("width", "height", "factors"),
    [
        (1000, 1000, [1, 2]),
        (6000, 8000, [1, 2, 4, 8, 16]),
        (300, 200, [1]),
        (512, 512, [1]),
        (513, 10, [1, 2]),
    ],
)
def test_scale_factors_go_down_to_one_tile(width: int, height: int, factors: list[int]) -> None:
    assert scale_factors(width, height, 512) == factors


def test_preferred_sizes_are_levels_within_the_limits() -> None:
    # 6000 x 8000 is 48 Mpx, above maxArea 40 Mpx: the full size is not offered.
    assert preferred_sizes(6000, 8000, [1, 2, 4, 8, 16], ROOMY) == [(375, 500), (750, 1000), (1500, 2000), (3000, 4000)]
    assert preferred_sizes(1000, 1000, [1, 2], ROOMY) == [(500, 500), (1000, 1000)]


@pytest.mark.parametrize(
    ("box", "out", "levels", "level"),
    [
        ((0, 0, 512, 512), (512, 512), 5, 0),  # a full-resolution tile
        ((0, 0, 2048, 2048), (512, 512), 5, 2),  # a tile at scale factor 4
        ((0, 0, 2048, 2048), (512, 512), 2, 1),  # ... from a pyramid with two levels only
        ((4096, 0, 1905, 2048), (477, 512), 5, 2),  # the right-hand edge tile at scale factor 4
        ((0, 0, 6001, 8001), (375, 500), 5, 4),  # the smallest listed size
        ((0, 0, 6001, 8001), (300, 400), 5, 4),
        ((0, 0, 6001, 8001), (3001, 4001), 5, 1),  # level 1 is 3000 x 4000: padded by one pixel
        ((0, 0, 6001, 8001), (3002, 4001), 5, 0),  # two pixels above level 1: read level 0
        ((10, 10, 100, 100), (30, 30), 5, 1),
    ],
)
def test_choose_level(box: tuple[int, int, int, int], out: tuple[int, int], levels: int, level: int) -> None:
    assert choose_level(box[2], box[3], out[0], out[1], levels) == level


def test_level_box() -> None:
    # Level 2 of a 6001 x 8001 pyramid is 1500 x 2000 (libvips rounds levels down).
    assert level_box(2048, 2048, 2048, 2048, 2, 1500, 2000) == (512, 512, 512, 512)
    # The right-hand edge tile: one column short of the 477 the client asks for; render pads it.
    assert level_box(4096, 0, 1905, 2048, 2, 1500, 2000) == (1024, 0, 476, 512)
    assert level_box(0, 0, 6001, 8001, 0, 6001, 8001) == (0, 0, 6001, 8001)
