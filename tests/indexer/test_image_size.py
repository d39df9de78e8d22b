"""The size of a canvas's image asked of its IIIF Image service for OCR (#21): the first look's, the physical size's.

The end-to-end tests index a manifest whose image is served by this project's own image endpoint
(a real uvicorn on 127.0.0.1, serving a folder as `image_roots`), count what it sent, and search
the index through the Search API for where a word's box landed on the canvas.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw, ImageFont

from indexer import paths
from indexer.canvas_text import image_url
from indexer.image_size import OCR_PIXELS_PER_INCH, ocr_width_of, physical_width_pixels, serves_any_width
from indexer.model import ImageRef
from indexer.pipeline import CHOICE_ITERATIONS, IndexOptions, index
from indexer.sources.manifest_v2 import read_manifest_v2
from indexer.sources.manifest_v3 import read_manifest_v3
from ocr.cache import OcrCache, key_for
from ocr.model import OcrSettings
from search_service.settings import Settings
from search_service.web.app import create_app

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract is not installed")

LINES = ["The quick brown fox", "jumps over the lazy", "dog and runs away", "into the dark woods", "before the night"]
PAGE_WIDTH, FONT_SIZE = 2000, 110
PAGE_HEIGHT = FONT_SIZE * 2 * len(LINES) + 200
PHYSDIM = "http://iiif.io/api/annex/services/physdim"


# -- which width, from the manifest -------------------------------------------------------------------


def _level1(**fields: Any) -> ImageRef:
    return ImageRef(
        service="https://img/p1", service_version=3, service_profile="level1", width=4000, height=6000, **fields
    )


def test_the_width_asked_without_a_physical_size_is_the_ocr_width() -> None:
    assert image_url(_level1(), 2400) == "https://img/p1/full/2400,/0/default.jpg"
    assert image_url(_level1(), 5000) == "https://img/p1/full/max/0/default.jpg"  # never an upscale


def test_a_physical_size_gives_the_width_for_300_pixels_an_inch_never_more_than_the_image() -> None:
    assert OCR_PIXELS_PER_INCH == 300
    assert image_url(_level1(physical_width=6.0), 2400) == "https://img/p1/full/1800,/0/default.jpg"
    assert image_url(_level1(physical_width=20.0), 2400) == "https://img/p1/full/max/0/default.jpg"  # 6000 > 4000
    assert physical_width_pixels(_level1(physical_width=20.0)) == 4000


def test_a_physical_size_too_small_to_read_asks_at_least_the_floor_width() -> None:
    # A physical size in the wrong unit (a tenth of the page) must not ask a width OCR reads as nothing.
    assert image_url(_level1(physical_width=0.6), 2400) == "https://img/p1/full/1000,/0/default.jpg"
    assert image_url(_level1(physical_width=0.0001), 2400) == "https://img/p1/full/1000,/0/default.jpg"
    small = ImageRef(service="https://img/p1", service_version=3, service_profile="level1", width=800, height=900)
    assert physical_width_pixels(ImageRef(**{**_fields(small), "physical_width": 0.6})) == 800  # never an upscale


@pytest.mark.parametrize(
    "image",
    [
        ImageRef(service="https://img/p1", service_version=3, service_profile="level0", width=4000, height=6000),
        ImageRef(service="https://img/p1", service_version=3, service_profile="level1"),  # no size in the manifest
        ImageRef(url="https://img/p1.jpg", width=4000, height=6000, physical_width=6.0),  # a plain image
    ],
)
def test_without_a_service_that_serves_any_width_the_image_is_asked_as_before(image: ImageRef) -> None:
    assert not serves_any_width(image) and ocr_width_of(image, 2400) is None
    with_size = ImageRef(**{**_fields(image), "physical_width": 6.0})
    assert image_url(with_size, 2400) == image_url(image, 2400)


def _fields(image: ImageRef) -> dict[str, Any]:
    return {name: getattr(image, name) for name in image.__slots__}


def _manifest_v3(service_url: str, canvas_services: list[Any], image_services: list[Any] | None = None) -> Any:
    body: dict[str, Any] = {
        "id": f"{service_url}/full/max/0/default.jpg",
        "type": "Image",
        "format": "image/jpeg",
        "width": PAGE_WIDTH,
        "height": PAGE_HEIGHT,
        "service": [
            {
                "id": service_url,
                "type": "ImageService3",
                "profile": "level1",
                **({"service": image_services} if image_services else {}),
            }
        ],
    }
    canvas = {
        "id": "https://example.org/canvas/p1",
        "type": "Canvas",
        "width": PAGE_WIDTH,
        "height": PAGE_HEIGHT,
        "items": [
            {
                "id": "https://example.org/canvas/p1/page",
                "type": "AnnotationPage",
                "items": [
                    {
                        "id": "https://example.org/canvas/p1/image",
                        "type": "Annotation",
                        "motivation": "painting",
                        "body": body,
                        "target": "https://example.org/canvas/p1",
                    }
                ],
            }
        ],
    }
    if canvas_services:
        canvas["service"] = canvas_services
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": "https://example.org/manifest",
        "type": "Manifest",
        "label": {"en": ["A page of big type"]},
        "items": [canvas],
    }


def test_a_p3_canvas_carrying_the_physical_dimensions_service() -> None:
    physdim = {"id": "https://example.org/physdim", "type": "Service", "profile": PHYSDIM}
    manifest = _manifest_v3("https://img/p1", [{**physdim, "physicalScale": 0.0025, "physicalUnits": "in"}])
    [canvas] = read_manifest_v3(manifest, "m.json", "b").canvases
    assert canvas.image is not None and canvas.image.physical_width == pytest.approx(5.0)  # 2000 x 0.0025 in
    assert image_url(canvas.image, 2400).endswith("/full/1500,/0/default.jpg")


def test_a_p3_image_service_carrying_it_as_info_json_does() -> None:
    physdim = {
        "@context": f"{PHYSDIM}/1/context.json",
        "profile": PHYSDIM,
        "physicalScale": 0.127,
        "physicalUnits": "mm",
    }
    [canvas] = read_manifest_v3(_manifest_v3("https://img/p1", [], [physdim]), "m.json", "b").canvases
    assert canvas.image is not None and canvas.image.physical_width == pytest.approx(10.0)  # 254 mm
    assert image_url(canvas.image, 2400).endswith("/full/max/0/default.jpg")  # 3000 px > the image's 2000


def test_a_p2_canvas_carrying_it_in_the_annex_form(spec_examples: Path) -> None:
    # The service as Image API 2.1's complete info.json example carries it.
    info = json.loads((spec_examples / "image2-info-complete.json").read_bytes())
    [physdim] = [service for service in info["service"] if service.get("profile") == PHYSDIM]
    manifest = {
        "@context": "http://iiif.io/api/presentation/2/context.json",
        "@id": "https://example.org/manifest",
        "@type": "sc:Manifest",
        "label": "A page of big type",
        "sequences": [
            {
                "canvases": [
                    {
                        "@id": "https://example.org/canvas/p1",
                        "@type": "sc:Canvas",
                        "width": PAGE_WIDTH,
                        "height": PAGE_HEIGHT,
                        "service": physdim,
                        "images": [
                            {
                                "@type": "oa:Annotation",
                                "motivation": "sc:painting",
                                "on": "https://example.org/canvas/p1",
                                "resource": {
                                    "@id": "https://img/p1/full/full/0/default.jpg",
                                    "@type": "dctypes:Image",
                                    "width": PAGE_WIDTH,
                                    "height": PAGE_HEIGHT,
                                    "service": {
                                        "@context": "http://iiif.io/api/image/2/context.json",
                                        "@id": "https://img/p1",
                                        "profile": "http://iiif.io/api/image/2/level1.json",
                                    },
                                },
                            }
                        ],
                    }
                ]
            }
        ],
    }
    [canvas] = read_manifest_v2(manifest, "m.json", "b").canvases
    assert canvas.image is not None and canvas.image.physical_width == pytest.approx(PAGE_WIDTH * 0.0025)
    assert image_url(canvas.image, 2400) == "https://img/p1/full/1500,/0/default.jpg"


def test_a_manifest_without_it_keeps_the_ocr_width() -> None:
    [canvas] = read_manifest_v3(_manifest_v3("https://img/p1", []), "m.json", "b").canvases
    assert canvas.image is not None and canvas.image.physical_width is None
    assert image_url(canvas.image, 2400).endswith("/full/max/0/default.jpg")  # the page is 2000 px
    assert image_url(canvas.image, 1000).endswith("/full/1000,/0/default.jpg")


# -- end to end, through the embedded image endpoint -------------------------------------------------


class CountingApp:
    """The service, recording the path and body bytes of every response it sends."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[tuple[str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = 0

        async def counting(message: Any) -> None:
            nonlocal size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting)
        self.sent.append((scope["path"], size))

    def images(self) -> list[tuple[str, int]]:
        return [(path, size) for path, size in self.sent if path.startswith("/iiif/image/")]


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, CountingApp]]:
    """(the base URL of a running service whose image endpoint serves one page of big type as `page`, its counter)."""
    import uvicorn

    root = tmp_path_factory.mktemp("images")
    page = Image.new("L", (PAGE_WIDTH, PAGE_HEIGHT), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(LINES):
        draw.text((60, 100 + number * FONT_SIZE * 2), line, fill=0, font=ImageFont.load_default(size=FONT_SIZE))
    page.save(root / "page.png")
    counted = CountingApp(create_app(Settings(data_dir=tmp_path_factory.mktemp("served"), image_roots=[root])))
    server = uvicorn.Server(uvicorn.Config(counted, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the service did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", counted
    server.should_exit = True
    thread.join(10)


def _index(tmp_path: Path, manifest: Any, name: str, text_height: int | None, make_data_dir: Any) -> Path:
    source = tmp_path / f"{name}.json"
    source.write_text(json.dumps(manifest), encoding="utf-8")
    data_dir: Path = make_data_dir(name)
    options = IndexOptions(data_dir=data_dir, workers=1, lang="eng", book_id="page", text_height=text_height)
    [report] = index([str(source)], options)
    assert report.ok and report.ocr + report.cached == 1, report.to_json()  # the session's OCR cache may know it
    return data_dir


def _box_of(data_dir: Path, word: str) -> tuple[int, int, int, int]:
    """The canvas region (x, y, w, h) of the one hit of `word`, through the Search 2.0 API."""

    async def search() -> Any:
        app = create_app(Settings(data_dir=data_dir))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            response = await client.get("/iiif/page/search/2", params={"q": word})
            assert response.status_code == 200, response.text
            return response.json()

    [item] = asyncio.run(search())["items"]
    match = re.search(r"#xywh=(\d+),(\d+),(\d+),(\d+)", json.dumps(item["target"]))
    assert match is not None, item["target"]
    x, y, w, h = (int(value) for value in match.groups())
    return x, y, w, h


def _close(one: tuple[int, ...], other: tuple[int, ...], tolerance: int) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(one, other, strict=True))


@needs_tesseract
def test_the_first_look_asks_the_service_for_a_thumbnail_then_the_chosen_width(
    image_server: tuple[str, CountingApp], tmp_path: Path, make_data_dir: Any
) -> None:
    base, counted = image_server
    manifest = _manifest_v3(f"{base}/iiif/image/3/page", [])
    counted.sent.clear()
    as_it_comes = _index(tmp_path, manifest, "as-it-comes", None, make_data_dir)
    plain = counted.images()
    counted.sent.clear()
    looked = _index(tmp_path, manifest, "looked", 36, make_data_dir)
    sized = counted.images()

    assert [path for path, _ in plain] == ["/iiif/image/3/page/full/max/0/default.jpg"]
    # A thumbnail of the first look's width, then the page at the width it chose: lines of ~110-140 px
    # brought to ~36, about a quarter of the 2000 px the plain run fetched, and never the full size.
    assert len(sized) == 2 and sized[0][0] == "/iiif/image/3/page/full/600,/0/default.jpg"
    chosen = re.fullmatch(r"/iiif/image/3/page/full/(\d+),/0/default\.jpg", sized[1][0])
    assert chosen is not None and 400 < int(chosen.group(1)) < 900
    assert sum(size for _, size in sized) < plain[0][1] / 2

    # The words' boxes still land on the same canvas region (hOCR pixels mapped by the page's size).
    for word in ("quick", "woods"):
        full, small = _box_of(as_it_comes, word), _box_of(looked, word)
        assert _close(full, small, tolerance=PAGE_WIDTH // 100), (word, full, small)

    # The cache key is the bytes OCR'd and the settings without text_height, which Tesseract read
    # as they came; a re-run looks again, asks the same width, and finds its hOCR without OCR.
    served = httpx.get(f"{base}{sized[1][0]}").content
    cache = OcrCache(paths.ocr_cache_dir(looked))
    assert cache.get(key_for(served, OcrSettings(lang="eng", choice_iterations=CHOICE_ITERATIONS))) is not None
    assert (
        cache.get(key_for(served, OcrSettings(lang="eng", choice_iterations=CHOICE_ITERATIONS, text_height=36))) is None
    )
    source = tmp_path / "looked.json"
    options = IndexOptions(data_dir=looked, workers=1, lang="eng", book_id="page", text_height=36)
    [again] = index([str(source)], options)
    assert (again.ocr, again.cached) == (0, 1), again.to_json()


@needs_tesseract
def test_a_canvas_physical_size_asks_its_width_at_300_pixels_an_inch(
    image_server: tuple[str, CountingApp], tmp_path: Path, make_data_dir: Any
) -> None:
    base, counted = image_server
    physdim = {"id": f"{base}/physdim", "type": "Service", "profile": PHYSDIM}
    # A 4-inch-wide object: 1200 px at 300 pixels an inch, of the 2000 px the image has.
    manifest = _manifest_v3(f"{base}/iiif/image/3/page", [{**physdim, "physicalScale": 0.002, "physicalUnits": "in"}])
    counted.sent.clear()
    data_dir = _index(tmp_path, manifest, "physical", None, make_data_dir)
    assert [path for path, _ in counted.images()] == ["/iiif/image/3/page/full/1200,/0/default.jpg"]
    x, y, w, h = _box_of(data_dir, "quick")
    # Where the page was drawn: "The quick ..." starts at x=60 on the first line, at y=100.
    assert 100 < x < 700 and 60 < y < 200 and w > 100, (x, y, w, h)


@needs_tesseract
@pytest.mark.slow
def test_a_dask_worker_asks_the_service_as_a_local_run_does(
    image_server: tuple[str, CountingApp], tmp_path: Path, make_data_dir: Any
) -> None:
    """With --cluster the worker takes the first look and asks the chosen width; the client's cache gets the local key."""
    pytest.importorskip("distributed")
    from tests.indexer.loopback_cluster import LoopbackCluster

    base, counted = image_server
    manifest = tmp_path / "cluster.json"
    manifest.write_text(json.dumps(_manifest_v3(f"{base}/iiif/image/3/page", [])), encoding="utf-8")
    local = _index(tmp_path, json.loads(manifest.read_text()), "local", 36, make_data_dir)
    counted.sent.clear()
    with LoopbackCluster(tmp_path / "dask", 1) as cluster:
        data_dir = tmp_path / "on-cluster"
        options = IndexOptions(data_dir=data_dir, cluster=cluster.address, lang="eng", book_id="page", text_height=36)
        [report] = index([str(manifest)], options)
    assert report.ok and report.ocr == 1, report.to_json()
    paths_asked = [path for path, _ in counted.images()]
    assert len(paths_asked) == 2 and paths_asked[0].endswith("/full/600,/0/default.jpg"), paths_asked
    # The same bytes OCR'd under the same key as the local run: the same hOCR, the same box.
    served = httpx.get(f"{base}{paths_asked[1]}").content
    key = key_for(served, OcrSettings(lang="eng", choice_iterations=CHOICE_ITERATIONS))
    assert OcrCache(paths.ocr_cache_dir(data_dir)).get(key) is not None
    assert OcrCache(paths.ocr_cache_dir(local)).get(key) is not None
    assert _box_of(data_dir, "quick") == _box_of(local, "quick")
