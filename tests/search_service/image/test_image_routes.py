"""The Image API over HTTP, in process: redirects, info.json shape, negotiation, caching, errors, limits, honesty of claims."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from search_service.image import render

VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
V3 = f"/iiif/image/3/{VALIDATOR_ID}"
V2 = f"/iiif/image/2/{VALIDATOR_ID}"
LEVEL1_V3 = {
    "baseUriRedirect",
    "cors",
    "jsonldMediaType",
    "regionByPx",
    "regionSquare",
    "sizeByH",
    "sizeByW",
    "sizeByWh",
}

# One request per feature an info.json may claim; a claim without a row here fails
# test_every_claimed_feature_works, so the lists in info_v2/info_v3 stay honest.
FEATURE_REQUESTS = {
    "regionByPx": "100,100,300,200/max/0/default.jpg",
    "regionSquare": "square/max/0/default.jpg",
    "regionByPct": "pct:10,20,30,40/max/0/default.jpg",
    "sizeByW": "full/300,/0/default.jpg",
    "sizeByH": "full/,300/0/default.jpg",
    "sizeByWh": "full/300,300/0/default.jpg",
    "sizeByDistortedWh": "full/300,100/0/default.jpg",
    "sizeByPct": "full/pct:25/0/default.jpg",
    "sizeByConfinedWh": "full/!300,200/0/default.jpg",
}


def image_size(body: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(body)) as image:
        return image.size


def load_example(spec_examples: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((spec_examples / name).read_text()))


# -- base URI and info.json ---------------------------------------------------------------


@pytest.mark.parametrize("base", [V3, V2, V3 + "/"])
async def test_the_base_uri_redirects_to_info_json(image_client: httpx.AsyncClient, base: str) -> None:
    response = await image_client.get(base)
    assert response.status_code == 303
    assert response.headers["location"] == "http://testserver" + base.rstrip("/") + "/info.json"
    assert response.headers["access-control-allow-origin"] == "*"


async def test_info_v3_has_the_shape_of_the_spec_example(
    image_client: httpx.AsyncClient, spec_examples: Path, test_data: Path
) -> None:
    response = await image_client.get(V3 + "/info.json")
    assert response.status_code == 200
    info = response.json()
    complete = load_example(spec_examples, "image3-info-complete.json")
    validator_example = json.loads((test_data / "image-api-validator" / "example-info-3.0.json").read_text())
    # Every key we write is one of the spec's complete response (§5.9); the validator's
    # example keys are all there too.
    assert set(info) <= set(complete)
    assert set(validator_example) <= set(info)
    assert next(iter(info)) == "@context"  # §5.2: "SHOULD appear as the very first key-value pair"
    assert info["id"] == "http://testserver" + V3
    assert (info["type"], info["protocol"], info["profile"]) == ("ImageService3", "http://iiif.io/api/image", "level1")
    assert (info["width"], info["height"]) == (1000, 1000)
    assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (10_000, 10_000, 40_000_000)
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2]}]
    assert info["sizes"] == [{"width": 500, "height": 500}, {"width": 1000, "height": 1000}]
    assert info["extraFormats"] == ["png"] and info["extraQualities"] == ["color", "gray"]
    assert not set(info["extraFeatures"]) & LEVEL1_V3


async def test_info_v2_has_the_shape_of_the_spec_example(
    image_client: httpx.AsyncClient, spec_examples: Path, test_data: Path
) -> None:
    info = (await image_client.get(V2 + "/info.json")).json()
    complete = load_example(spec_examples, "image2-info-complete.json")
    validator_example = json.loads((test_data / "image-api-validator" / "example-info-2.0.json").read_text())
    assert set(info) <= set(complete)
    assert set(validator_example) <= set(info)
    assert info["@context"] == "http://iiif.io/api/image/2/context.json"
    assert info["@id"] == "http://testserver" + V2
    level, extras = info["profile"]
    assert level == "http://iiif.io/api/image/2/level1.json"
    # 2.1 §5.3's profile properties, minus those only for dereferenced profiles.
    assert set(extras) <= {"formats", "qualities", "supports", "maxWidth", "maxHeight", "maxArea"}
    assert (extras["maxWidth"], extras["maxHeight"], extras["maxArea"]) == (10_000, 10_000, 40_000_000)
    assert info["tiles"] == [{"width": 512, "height": 512, "scaleFactors": [1, 2]}]


async def test_a_grey_image_claims_no_color(image_client: httpx.AsyncClient) -> None:
    info = (await image_client.get("/iiif/image/3/grey16/info.json")).json()
    assert info["extraQualities"] == ["gray"]
    assert (info["width"], info["height"]) == (600, 400)


async def test_a_folder_book_image_is_served_by_its_identifier(image_client: httpx.AsyncClient) -> None:
    info = (await image_client.get("/iiif/image/3/scans~0001/info.json")).json()
    assert info["id"] == "http://testserver/iiif/image/3/scans~0001"
    response = await image_client.get("/iiif/image/3/scans~0001/full/,100/0/default.jpg")
    assert image_size(response.content) == (100, 100)


@pytest.mark.parametrize(
    ("version", "accept", "media_type"),
    [
        ("3", None, 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'),
        ("3", "application/ld+json", 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'),
        ("3", "*/*", 'application/ld+json;profile="http://iiif.io/api/image/3/context.json"'),
        ("3", "application/json", "application/json"),
        ("2", None, "application/json"),
        ("2", "*/*", "application/json"),
        ("2", "application/ld+json", 'application/ld+json;profile="http://iiif.io/api/image/2/context.json"'),
    ],
)
async def test_json_ld_media_type(
    image_client: httpx.AsyncClient, version: str, accept: str | None, media_type: str
) -> None:
    # 3.0 §5.1: JSON-LD with the context as profile unless the client asks otherwise;
    # 2.1 §5.1: JSON-LD only when the Accept header asks for it.
    request = image_client.build_request("GET", f"/iiif/image/{version}/{VALIDATOR_ID}/info.json")
    del request.headers["accept"]
    if accept:
        request.headers["accept"] = accept
    response = await image_client.send(request)
    assert response.headers["content-type"] == media_type
    assert response.headers["vary"] == "Accept"


# -- images ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [V3, V2])
async def test_every_claimed_feature_works(image_client: httpx.AsyncClient, prefix: str) -> None:
    info = (await image_client.get(prefix + "/info.json")).json()
    if prefix == V3:
        features, formats, qualities = (
            LEVEL1_V3 | set(info["extraFeatures"]),
            info["extraFormats"],
            info["extraQualities"],
        )
    else:
        extras = info["profile"][1]
        features = {"regionByPx", "sizeByW", "sizeByH", "sizeByPct", *extras["supports"]}
        formats, qualities = extras["formats"], extras["qualities"]
    for feature in sorted(features):
        if feature in FEATURE_REQUESTS:
            response = await image_client.get(f"{prefix}/{FEATURE_REQUESTS[feature]}")
            assert response.status_code == 200, feature
        else:
            assert feature in {
                "baseUriRedirect",
                "cors",
                "jsonldMediaType",
                "canonicalLinkHeader",
                "profileLinkHeader",
            }, f"no test for claimed feature {feature}"
    for fmt in formats:
        response = await image_client.get(f"{prefix}/full/100,/0/default.{fmt}")
        assert response.headers["content-type"] == f"image/{'jpeg' if fmt == 'jpg' else fmt}"
    for quality in qualities:
        assert (await image_client.get(f"{prefix}/full/100,/0/{quality}.jpg")).status_code == 200


@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("full/max/0/default.jpg", (1000, 1000)),
        ("square/max/0/default.jpg", (1000, 1000)),
        ("125,15,120,140/max/0/default.jpg", (120, 140)),
        ("900,900,500,500/max/0/default.jpg", (100, 100)),
        ("full/150,/0/default.jpg", (150, 150)),
        ("full/,150/0/default.jpg", (150, 150)),
        ("full/225,100/0/default.jpg", (225, 100)),
        ("full/!225,100/0/default.jpg", (100, 100)),
        ("full/pct:50/0/default.jpg", (500, 500)),
        ("pct:41.6,7.5,40,70/max/0/default.jpg", (400, 700)),
    ],
)
async def test_level_1_and_extra_requests(image_client: httpx.AsyncClient, path: str, size: tuple[int, int]) -> None:
    response = await image_client.get(f"{V3}/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert image_size(response.content) == size


@pytest.mark.parametrize("prefix", [V3, V2])
@pytest.mark.parametrize(
    ("path", "size"),
    [
        ("full/!200,100/0/default.jpg", (100, 100)),  # smaller than the region: fitted
        ("125,15,120,140/!60,60/0/default.jpg", (51, 60)),
        ("full/!2000,3000/0/default.jpg", (1000, 1000)),  # larger: the region itself
        # A hit's word box, as Clover asks for its thumbnail (#12): `!100,63` of a 40x25 region.
        ("125,15,40,25/!100,63/0/default.jpg", (40, 25)),
        ("990,990,40,25/!100,100/0/default.jpg", (10, 10)),  # cut at the edge, then kept
    ],
)
async def test_confined_size_is_never_larger_than_the_region(
    image_client: httpx.AsyncClient, prefix: str, path: str, size: tuple[int, int]
) -> None:
    response = await image_client.get(f"{prefix}/{path}")
    assert response.status_code == 200, response.text
    assert image_size(response.content) == size
    assert len(response.content) > 0


@pytest.mark.parametrize("identifier", ["color", VALIDATOR_ID])
@pytest.mark.parametrize("version", ["3", "2"])
async def test_every_tile_and_size_a_viewer_derives_from_info_json(
    image_client: httpx.AsyncClient, identifier: str, version: str
) -> None:
    # The tile URLs OpenSeadragon builds from `tiles` (3.0 §5.4, Implementation Notes), and each of `sizes`.
    prefix = f"/iiif/image/{version}/{identifier}"
    info = (await image_client.get(prefix + "/info.json")).json()
    width, height, tile = info["width"], info["height"], info["tiles"][0]
    for factor in tile["scaleFactors"]:
        span = tile["width"] * factor
        for y in range(0, height, span):
            for x in range(0, width, span):
                w, h = min(span, width - x), min(span, height - y)
                out = (math.ceil(w / factor), math.ceil(h / factor))
                size = f"{out[0]},{out[1]}" if version == "3" else f"{out[0]},"
                response = await image_client.get(f"{prefix}/{x},{y},{w},{h}/{size}/0/default.jpg")
                assert response.status_code == 200, response.text
                assert image_size(response.content) == out
    for entry in info["sizes"]:
        response = await image_client.get(f"{prefix}/full/{entry['width']},{entry['height']}/0/default.jpg")
        assert image_size(response.content) == (entry["width"], entry["height"])


async def test_image_headers_and_conditional_get(
    image_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = await image_client.get(f"{V3}/0,0,512,512/256,/0/default.jpg")
    assert response.status_code == 200
    # Without a configured public URL the Link names the request's host: no shared cache may keep it.
    assert response.headers["cache-control"] == "private, max-age=600"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["link"] == (
        f'<http://testserver{V3}/0,0,512,512/256,256/0/default.jpg>;rel="canonical", '
        '<http://iiif.io/api/image/3/level1.json>;rel="profile"'
    )
    etag = response.headers["etag"]
    # An equivalent URL has the same canonical form, hence the same ETag.
    same = await image_client.get(f"{V3}/pct:0,0,51.2,51.2/pct:50/0/default.jpg")
    assert same.headers["etag"] == etag
    other = await image_client.get(f"{V3}/0,0,512,512/128,/0/default.jpg")
    assert other.headers["etag"] != etag
    monkeypatch.setattr("search_service.web.routes.image.render", lambda *args: pytest.fail("rendered for a 304"))
    cached = await image_client.get(f"{V3}/0,0,512,512/256,/0/default.jpg", headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["etag"] == etag


async def test_info_json_conditional_get(image_client: httpx.AsyncClient) -> None:
    response = await image_client.get(V3 + "/info.json")
    assert response.headers["cache-control"] == "private, max-age=600"
    cached = await image_client.get(V3 + "/info.json", headers={"If-None-Match": response.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/info.json", "application/ld+json"),
        ("/full/100,/0/default.jpg", "image/jpeg"),
    ],
)
async def test_head(image_client: httpx.AsyncClient, path: str, media_type: str) -> None:
    response = await image_client.head(V3 + path)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["access-control-allow-origin"] == "*"


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "mentions"),
    [
        (f"{V3}/abc/max/0/default.jpg", 400, "region"),
        (f"{V3}/1000,0,10,10/max/0/default.jpg", 400, "region"),
        (f"{V3}/0,0,0,10/max/0/default.jpg", 400, "region"),
        (f"{V3}/full/full/0/default.jpg", 400, "size"),
        (f"{V3}/full/1001,/0/default.jpg", 400, "size"),
        (f"{V3}/full/max/90/default.jpg", 400, "rotation"),
        (f"{V3}/full/max/0/bitonal.jpg", 400, "quality"),
        (f"{V3}/full/max/0/default.tif", 400, "format"),
        (f"{V3}/full/^1001,/0/default.jpg", 501, "upscaling"),
        (f"{V3}/full/^max/0/default.jpg", 501, "upscaling"),
        (f"{V3}/full/^pct:120/0/default.jpg", 501, "upscaling"),
        (f"{V2}/full/1001,/0/default.jpg", 501, "sizeAboveFull"),
        (f"{V2}/full/^max/0/default.jpg", 400, "size"),
        ("/iiif/image/3/nothing-here/full/max/0/default.jpg", 404, "nothing-here"),
        ("/iiif/image/3/nothing-here/info.json", 404, "nothing-here"),
        ("/iiif/image/3/nothing-here", 404, "nothing-here"),
        ("/iiif/image/2/nothing-here/info.json", 404, "nothing-here"),
        ("/iiif/image/3/a/b/full/max/0/default.jpg", 404, "not an Image API path"),
        ("/iiif/image/3/", 404, "identifier"),
    ],
)
async def test_errors_are_short_plain_text(
    image_client: httpx.AsyncClient, path: str, status: int, mentions: str
) -> None:
    response = await image_client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["access-control-allow-origin"] == "*"
    assert mentions in response.text and len(response.text) < 300


@pytest.mark.parametrize(
    "identifier",
    [
        "a%2Fb",  # an encoded slash stays inside the identifier
        "..%2Fsecret",  # the file beside the root
        "..%2Froot%2Fcolor",
        "%2E%2E",
        "%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd%00",
        "escape",  # a symlink out of the root
        ".hidden",
        "notes",
        "color.jpg",
    ],
)
async def test_traversal_is_404(image_client: httpx.AsyncClient, image_root: Path, identifier: str) -> None:
    for path in (f"/iiif/image/3/{identifier}/info.json", f"/iiif/image/3/{identifier}/full/max/0/default.jpg"):
        response = await image_client.get(path)
        assert response.status_code in (400, 404), path
        assert str(image_root.parent) not in response.text


async def test_limits_are_advertised_and_enforced(make_image_client: Callable[..., httpx.AsyncClient]) -> None:
    async with make_image_client(max_image_width=400, max_image_height=300, max_image_area=100_000) as client:
        info = (await client.get(V3 + "/info.json")).json()
        assert (info["maxWidth"], info["maxHeight"], info["maxArea"]) == (400, 300, 100_000)
        assert info["tiles"][0]["width"] == 300  # 3.0 §5.2: tiles within the limits
        assert info["sizes"] == [{"width": 250, "height": 250}]
        v2 = (await client.get(V2 + "/info.json")).json()
        assert v2["profile"][1]["maxWidth"] == 400
        # `max` is the largest size within every limit (§4.2).
        assert image_size((await client.get(V3 + "/full/max/0/default.jpg")).content) == (300, 300)
        assert image_size((await client.get(V3 + "/full/^max/0/default.jpg")).content) == (300, 300)
        for path in ("/full/301,301/0/default.jpg", "/full/401,/0/default.jpg", "/full/pct:40/0/default.jpg"):
            response = await client.get(V3 + path)
            assert response.status_code == 404, path  # §7.3: above the limits
            assert "limits" in response.text
        assert (await client.get(V2 + "/full/full/0/default.jpg")).status_code == 404


async def test_a_decompression_bomb_is_refused_unread(
    image_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render, "write_pyramid", lambda *args: pytest.fail("the bomb was decoded"))
    monkeypatch.setattr(render, "render", lambda *args: pytest.fail("the bomb was decoded"))
    for path in (
        "/iiif/image/3/bomb/info.json",
        "/iiif/image/3/bomb/0,0,512,512/512,/0/default.jpg",
        "/iiif/image/2/bomb/full/100,/0/default.jpg",
    ):
        response = await image_client.get(path)
        assert response.status_code == 404
        assert "30000x30000" in response.text and "not decoded" in response.text


async def test_a_bomb_within_max_source_pixels_is_measured(make_image_client: Callable[..., httpx.AsyncClient]) -> None:
    async with make_image_client(max_source_pixels=30_000 * 30_000) as client:
        info = (await client.get("/iiif/image/3/bomb/info.json")).json()
        assert (info["width"], info["height"]) == (30_000, 30_000)
        assert len(info["tiles"][0]["scaleFactors"]) == 7  # 30000 / 64 = 469 fits one tile
