"""Bad images (#6): at indexing, the canvas fails with its reason and the rest of the book is indexed;
at serving, the Image API answers 4xx, never 500; and nothing already indexed is lost.

Indexing: each test indexes a two-canvas book whose first canvas is a good image and
whose second is the bad one, both fetched from the misbehaving local server
(`bad_http`), with real Tesseract. Serving: the same files sit in the image root of
the session's live server (`bad_images`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from indexer.index.store import Store
from indexer.pipeline import IndexOptions, index
from tests.reliability.conftest import BadHttp, Service, run_index, summary_of

GOOD = ("good.png", 1100, 500)


def image_manifest(manifest_id: str, images: list[tuple[str, int, int]]) -> dict[str, Any]:
    """A Presentation 3.0 manifest painting one plain image URL (no image service, no OCR link) per canvas."""
    items = []
    for n, (url, width, height) in enumerate(images, 1):
        canvas = f"{manifest_id}/canvas/{n}"
        items.append(
            {
                "id": canvas,
                "type": "Canvas",
                "label": {"none": [f"p. {n}"]},
                "width": width,
                "height": height,
                "items": [
                    {
                        "id": f"{canvas}/page",
                        "type": "AnnotationPage",
                        "items": [
                            {
                                "id": f"{canvas}/image",
                                "type": "Annotation",
                                "motivation": "painting",
                                "target": canvas,
                                "body": {
                                    "id": url,
                                    "type": "Image",
                                    "format": "image/jpeg",
                                    "width": width,
                                    "height": height,
                                },
                            }
                        ],
                    }
                ],
            }
        )
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": manifest_id,
        "type": "Manifest",
        "label": {"en": [manifest_id]},
        "items": items,
    }


@pytest.fixture(scope="module")
def served(bad_http: BadHttp, bad_images: Path) -> BadHttp:
    for path in bad_images.iterdir():
        bad_http.add(path.name, path.read_bytes(), "image/jpeg" if path.suffix == ".jpg" else "image/png")
    return bad_http


def index_pair(service: Service, served: BadHttp, tmp_path: Path, book: str, bad_url: str) -> dict[str, Any]:
    """Index [good image, bad image] as `book`; returns the JSON summary."""
    size = (1100, 500)
    manifest = image_manifest(f"https://example.org/{book}", [(served.url("ok", GOOD[0]), *GOOD[1:]), (bad_url, *size)])
    path = tmp_path / f"{book}.json"
    path.write_text(json.dumps(manifest))
    result = run_index([str(path), "--id", book, "--json"], service.data_dir)
    summary = summary_of(result)
    assert result.exit_code == (0 if summary["ok"] else 1), result.output
    return summary


def failure(summary: dict[str, Any]) -> str:
    [book] = summary["books"]
    assert book["committed"], book  # the good canvas was written
    [failed] = book["failed"]
    assert failed["canvas"] == 1
    return str(failed["reason"])


@pytest.mark.parametrize(
    ("case", "how", "name", "expected"),
    [
        ("404", "status/404", "missing.jpg", "HTTP 404"),
        ("500-always", "status/500", "broken.jpg", "HTTP 500 after 4 attempts"),
        ("html-as-image", "html", "page.jpg", "not an image (text/html"),
        ("html-file-named-jpg", "ok", "html.jpg", "not an image"),
        ("empty-body", "ok", "empty.jpg", "not an image"),
        ("random-bytes", "ok", "noise.png", "not an image"),
        # The warm engine (#21) reads the image with Pillow; the Tesseract command with libjpeg.
        ("truncated-jpeg", "ok", "truncated.jpg", "image file is truncated|Premature end of JPEG file"),
        ("cut-transfer", "cut", "good.jpg", "connection failed (RemoteProtocolError"),
        ("decompression-bomb", "ok", "bomb.png", "30000x30000 pixels is over the 200,000,000 pixel limit"),
        ("1x1-pixel", "ok", "one.png", "1x1 pixels is too small to OCR"),
        ("20000x20000", "ok", "huge.jpg", "20000x20000 pixels is over the 200,000,000 pixel limit"),
    ],
)
def test_bad_image_fails_its_canvas_only(
    service: Service, served: BadHttp, tmp_path: Path, case: str, how: str, name: str, expected: str
) -> None:
    summary = index_pair(service, served, tmp_path, f"img-{case}", served.url(how, name))
    assert any(reason in failure(summary) for reason in expected.split("|")), failure(summary)
    assert Store(service.data_dir).snapshot().book(f"img-{case}").page_count == 1  # type: ignore[union-attr]
    service.check(f"image: {case}")


def test_500_then_success_is_retried(service: Service, served: BadHttp, tmp_path: Path) -> None:
    url = served.url("flaky/1", "good.jpg")
    summary = index_pair(service, served, tmp_path, "img-flaky", url)
    assert summary["ok"] and summary["failed"] == 0, summary
    assert served.hits[url.removeprefix(served.base)] == 2  # one 500, one 200
    service.check("image: 500 then 200")


def test_stalled_connection_times_out(service: Service, served: BadHttp, tmp_path: Path) -> None:
    # The server answers after 3 s; the fetcher gives up waiting after 1 s, four times.
    served.stall_seconds = 3.0
    url = served.url("stall", "good.jpg")
    manifest = image_manifest(
        "https://example.org/img-stall", [(served.url("ok", GOOD[0]), *GOOD[1:]), (url, 1100, 500)]
    )
    path = tmp_path / "stall.json"
    path.write_text(json.dumps(manifest))
    started = time.monotonic()
    [report] = index(
        [str(path)], IndexOptions(data_dir=service.data_dir, workers=1, book_id="img-stall", fetch_timeout=1.0)
    )
    seconds = time.monotonic() - started
    assert report.committed and [f["canvas"] for f in report.failed] == [1]
    assert "timed out (ReadTimeout" in str(report.failed[0]["reason"]) and "after 4 attempts" in str(
        report.failed[0]["reason"]
    )
    assert seconds < 20, f"the stalled image held the run for {seconds:.0f} s"
    service.check("image: stalled connection")


def test_every_image_bad_writes_nothing(service: Service, served: BadHttp, tmp_path: Path) -> None:
    manifest = image_manifest(
        "https://example.org/img-none",
        [
            (served.url("status/404", "a.jpg"), 100, 100),
            (served.url("html", "b.jpg"), 100, 100),
            (served.url("ok", "bomb.png"), 30000, 30000),
        ],
    )
    path = tmp_path / "none.json"
    path.write_text(json.dumps(manifest))
    result = run_index([str(path), "--id", "img-none"], service.data_dir)
    assert result.exit_code == 1
    assert result.stdout.startswith("FAILED  img-none: no canvas could be read; nothing was written"), result.stdout
    assert "HTTP 404" in result.stdout and "not an image" in result.stdout and "pixel limit" in result.stdout
    assert Store(service.data_dir).snapshot().book("img-none") is None
    service.check("image: every canvas bad")


# -- the same files behind the Image API ----------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "info", "tile"),
    [
        ("good", 200, 200),
        ("truncated", 200, 200),  # libvips reads what is there; the rest of the image is grey
        ("html", 404, 404),
        ("empty", 404, 404),
        ("noise", 404, 404),
        ("one", 200, 200),
        ("bomb", 404, 404),  # Image API 3.0 §7.3: above the server's limits is 404
        ("huge", 404, 404),  # 400 Mpixel is above the default max_source_pixels (300 M)
    ],
)
def test_image_api_on_bad_files(service: Service, identifier: str, info: int, tile: int) -> None:
    status, body = service.server.get(f"/iiif/image/3/{identifier}/info.json")
    assert status == info, body[:300]
    status, body = service.server.get(f"/iiif/image/3/{identifier}/full/max/0/default.jpg", timeout=60)
    assert status == tile, body[:300]
    if status != 200:
        assert body.decode().strip() and b"Traceback" not in body and b"/tmp" not in body
    service.check(f"image API: {identifier}")
