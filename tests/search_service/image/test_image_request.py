"""The URL parser against the Image API 3.0 spec's own URL tables (§9, §4.1-§4.6), like zimeon's test_request_spec_3_0.py."""

from __future__ import annotations

import pytest

from search_service.errors import ImageRequestError
from search_service.image.request import (
    ImageRequest,
    Region,
    Rotation,
    Size,
    parse_identifier,
    parse_image_path,
)

# Image API 3.0 §9, "URI Encoding and Decoding": parameters -> URI path. The spec's paths
# of rows 1 and 5-8 end at the quality (they illustrate encoding); the §2.1 template
# requires `.{format}`, so `.jpg` is added there.
SPEC_9_TABLE = [
    (
        "id1/full/max/0/default.jpg",
        ImageRequest("3.0", "id1", Region("full"), Size("max"), Rotation(0), "default", "jpg"),
    ),
    (
        "id1/0,10,100,200/pct:50/90/default.png",
        ImageRequest(
            "3.0", "id1", Region("pixels", 0, 10, 100, 200), Size("percent", percent=50), Rotation(90), "default", "png"
        ),
    ),
    (
        "id1/pct:10,10,80,80/50,/22.5/color.jpg",
        ImageRequest(
            "3.0", "id1", Region("percent", 10, 10, 80, 80), Size("width", width=50), Rotation(22.5), "color", "jpg"
        ),
    ),
    (
        "bb157hs6068/full/max/270/gray.jpg",
        ImageRequest("3.0", "bb157hs6068", Region("full"), Size("max"), Rotation(270), "gray", "jpg"),
    ),
    (
        "ark:%2F12025%2F654xz321/full/max/0/default.jpg",
        ImageRequest("3.0", "ark:/12025/654xz321", Region("full"), Size("max"), Rotation(0), "default", "jpg"),
    ),
    (
        "urn:foo:a123,456/full/max/0/default.jpg",
        ImageRequest("3.0", "urn:foo:a123,456", Region("full"), Size("max"), Rotation(0), "default", "jpg"),
    ),
    (
        "urn:sici:1046-8188(199501)13:1%253C69:FTTHBI%253E2.0.TX;2-4/full/max/0/default.jpg",
        ImageRequest(
            "3.0",
            "urn:sici:1046-8188(199501)13:1%3C69:FTTHBI%3E2.0.TX;2-4",
            Region("full"),
            Size("max"),
            Rotation(0),
            "default",
            "jpg",
        ),
    ),
    # The spec's row says identifier=https://... but encodes http://...; the path is what is tested.
    (
        "http:%2F%2Fexample.com%2F%3F54%23a/full/max/0/default.jpg",
        ImageRequest("3.0", "http://example.com/?54#a", Region("full"), Size("max"), Rotation(0), "default", "jpg"),
    ),
]


@pytest.mark.parametrize(("path", "expected"), SPEC_9_TABLE, ids=[row[0] for row in SPEC_9_TABLE])
def test_spec_9_uri_table(path: str, expected: ImageRequest) -> None:
    assert parse_image_path(path, "3.0") == expected


# §4.1 region examples 1-6.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("full", Region("full")),
        ("square", Region("square")),
        ("125,15,120,140", Region("pixels", 125, 15, 120, 140)),
        ("pct:41.6,7.5,40,70", Region("percent", 41.6, 7.5, 40, 70)),
        ("125,15,200,200", Region("pixels", 125, 15, 200, 200)),
        ("pct:41.6,7.5,66.6,100", Region("percent", 41.6, 7.5, 66.6, 100)),
        ("0,0,0,0", Region("pixels", 0, 0, 0, 0)),  # syntactically fine; plan refuses zero size
    ],
)
def test_spec_4_1_regions(text: str, expected: Region) -> None:
    assert parse_image_path(f"i/{text}/max/0/default.jpg", "3.0").region == expected


# §4.2 size examples 1-6, each with and without `^`.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("max", Size("max")),
        ("^max", Size("max", upscale=True)),
        ("150,", Size("width", width=150)),
        ("^360,", Size("width", width=360, upscale=True)),
        (",150", Size("height", height=150)),
        ("^,240", Size("height", height=240, upscale=True)),
        ("pct:50", Size("percent", percent=50)),
        ("pct:120", Size("percent", percent=120)),
        ("^pct:120", Size("percent", percent=120, upscale=True)),
        ("225,100", Size("exact", 225, 100)),
        ("^360,360", Size("exact", 360, 360, upscale=True)),
        ("!225,100", Size("confined", 225, 100)),
        ("^!360,360", Size("confined", 360, 360, upscale=True)),
    ],
)
def test_spec_4_2_sizes(text: str, expected: Size) -> None:
    assert parse_image_path(f"i/full/{text}/0/default.jpg", "3.0").size == expected


# §4.3 rotation examples 1-6.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", Rotation(0)),
        ("180", Rotation(180)),
        ("90", Rotation(90)),
        ("22.5", Rotation(22.5)),
        ("!0", Rotation(0, mirror=True)),
        ("!180", Rotation(180, mirror=True)),
        ("360", Rotation(0)),
        ("0.5", Rotation(0.5)),
    ],
)
def test_spec_4_3_rotations(text: str, expected: Rotation) -> None:
    assert parse_image_path(f"i/full/max/{text}/default.jpg", "3.0").rotation == expected


@pytest.mark.parametrize("quality", ["default", "color", "gray", "bitonal"])  # §4.4
@pytest.mark.parametrize("fmt", ["jpg", "tif", "png", "gif", "jp2", "pdf", "webp"])  # §4.5
def test_spec_4_4_and_4_5_quality_and_format(quality: str, fmt: str) -> None:
    request = parse_image_path(f"i/full/max/0/{quality}.{fmt}", "3.0")
    assert (request.quality, request.format) == (quality, fmt)


def test_spec_4_6_example() -> None:
    request = parse_image_path("i/125,15,120,140/90,/!345/gray.jpg", "3.0")
    assert request == ImageRequest(
        "3.0",
        "i",
        Region("pixels", 125, 15, 120, 140),
        Size("width", width=90),
        Rotation(345, mirror=True),
        "gray",
        "jpg",
    )


def test_version_2_1_has_full_and_max_and_no_caret() -> None:
    assert parse_image_path("i/full/full/0/default.jpg", "2.1").size == Size("full")
    assert parse_image_path("i/full/max/0/default.jpg", "2.1").size == Size("max")
    assert parse_image_path("i/square/pct:50/0/default.jpg", "2.1").region == Region("square")
    with pytest.raises(ImageRequestError) as caught:
        parse_image_path("i/full/^max/0/default.jpg", "2.1")
    assert caught.value.parameter == "size"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("i/abc/max/0/default.jpg", "region"),
        ("i/1,2,3/max/0/default.jpg", "region"),
        ("i/-1,0,10,10/max/0/default.jpg", "region"),
        ("i/1.5,0,10,10/max/0/default.jpg", "region"),  # §4: pixels are integers
        ("i/pct:1,2,3/max/0/default.jpg", "region"),
        ("i/pct:+1,2,3,4/max/0/default.jpg", "region"),  # §4.7: digits and "." only
        ("i/full/full/0/default.jpg", "size"),  # 3.0 has max, not full
        ("i/full/pct:abc/0/default.jpg", "size"),
        ("i/full/!100,/0/default.jpg", "size"),
        ("i/full/,/0/default.jpg", "size"),
        ("i/full/^^max/0/default.jpg", "size"),
        ("i/full/1e3,/0/default.jpg", "size"),
        ("i/full/max/abc/default.jpg", "rotation"),
        ("i/full/max/361/default.jpg", "rotation"),
        ("i/full/max/-5/default.jpg", "rotation"),
        ("i/full/max/1e2/default.jpg", "rotation"),
        ("i/full/max/0/best.jpg", "quality"),
        ("i/full/max/0/grey.jpg", "quality"),  # en-us "gray" since 2.0
        ("i/full/max/0/default.jpeg", "format"),
        ("i/full/max/0/default", "format"),
        ("i/full/max/default.jpg", "path"),
        ("%FF/full/max/0/default.jpg", "identifier"),
        ("/full/max/0/default.jpg", "identifier"),
    ],
)
def test_errors_name_the_parameter(path: str, parameter: str) -> None:
    with pytest.raises(ImageRequestError) as caught:
        parse_image_path(path, "3.0")
    assert caught.value.parameter == parameter
    assert caught.value.status == 400
    assert caught.value.message.startswith(parameter)


@pytest.mark.parametrize(
    ("segment", "identifier"),
    [
        ("67352ccc%2Dd1b0-11e1-89ae-279075081939", "67352ccc-d1b0-11e1-89ae-279075081939"),
        ("book~0001", "book~0001"),
        ("..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"),  # decoded, never joined to a path (see resolve)
        ("caf%C3%A9", "café"),
    ],
)
def test_identifiers_are_percent_decoded(segment: str, identifier: str) -> None:
    assert parse_identifier(segment) == identifier


@pytest.mark.parametrize("segment", ["", "a%00b", "%C3"])
def test_bad_identifiers(segment: str) -> None:
    with pytest.raises(ImageRequestError):
        parse_identifier(segment)
