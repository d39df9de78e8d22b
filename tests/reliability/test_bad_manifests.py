"""Bad manifests (#6): each gets a clear error from index-manifest, loses nothing already indexed, and the server keeps answering.

Every test runs the real `index-manifest` against the session's seeded data directory
(tests/reliability/conftest.py) while `iiif-search serve` serves it, then calls
`service.check()`: the index opens, `seed` has all its pages, and the server's
answers to its searches have the same totals as before.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bench.common import hocr_manifest
from indexer.fetch import MAX_MANIFEST_BYTES
from indexer.index.store import Store
from tests.reliability.conftest import BadHttp, Pages, Service, run_index, summary_of, write_manifest

V3 = "http://iiif.io/api/presentation/3/context.json"


def index_file(service: Service, source: Path | str, *extra: str) -> tuple[int, str, dict[str, Any]]:
    """(exit status, text summary, JSON summary) of indexing one source into the seeded directory."""
    text = run_index([str(source), *extra], service.data_dir)
    as_json = run_index([str(source), *extra, "--json"], service.data_dir)
    assert text.exit_code == as_json.exit_code
    return text.exit_code, text.stdout, summary_of(as_json)


def assert_refused(service: Service, source: Path | str, *expected: str, what: str) -> None:
    """Exit 1, a FAILED line naming the source and the reason, nothing written, and `seed` intact."""
    before = {b.id for b in Store(service.data_dir).snapshot().books()}
    status, text, summary = index_file(service, source)
    assert status == 1, text
    assert text.startswith("FAILED"), text
    for words in expected:
        assert words in text, text
    assert summary["ok"] is False and summary["books"][0]["error"]
    assert {b.id for b in Store(service.data_dir).snapshot().books()} == before
    service.check(what)


# -- not a manifest --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("truncated", b'{"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manif', "not JSON"),
        ("binary", bytes(range(256)) * 4, "not JSON"),
        ("empty", b"", "not JSON"),
        ("latin1", '{"label": "Pérou"'.encode("latin-1"), "not JSON"),
        ("html", b"<!DOCTYPE html><html><body>Not found</body></html>", "not JSON"),
    ],
)
def test_not_json(service: Service, tmp_path: Path, name: str, body: bytes, expected: str) -> None:
    path = tmp_path / f"{name}.json"
    path.write_bytes(body)
    assert_refused(service, path, expected, str(path), what=f"manifest: not JSON ({name})")


def test_html_page_served_for_a_manifest_url(service: Service, bad_http: BadHttp) -> None:
    assert_refused(
        service,
        bad_http.url("html", "manifest.json"),
        "not JSON",
        "text/html",
        what="manifest: an HTML page at the manifest URL",
    )


def test_manifest_url_that_answers_404(service: Service, bad_http: BadHttp) -> None:
    assert_refused(service, bad_http.url("status/404", "manifest.json"), "HTTP 404", what="manifest: 404")


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("list", [1, 2, 3], "not a IIIF Manifest or Collection: a list"),
        ("string", "manifest", "not a IIIF Manifest or Collection: a str"),
        ("null", None, "not a IIIF Manifest or Collection: a NoneType"),
        ("annotation", {"@context": V3, "id": "https://x/a", "type": "Annotation"}, "type 'Annotation'"),
        ("canvas-v2", {"@id": "https://x/c", "@type": "sc:Canvas"}, "@type 'sc:Canvas'"),
        ("untyped", {"@context": V3, "id": "https://x/m", "items": []}, "no type or @type"),
        (
            "search-response",
            {"@context": "http://iiif.io/api/search/2/context.json", "type": "AnnotationPage", "items": []},
            "type 'AnnotationPage'",
        ),
    ],
)
def test_json_but_not_a_manifest(service: Service, tmp_path: Path, name: str, data: Any, expected: str) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    assert_refused(service, path, expected, what=f"manifest: JSON but not a manifest ({name})")


@pytest.mark.parametrize(
    "context",
    [
        "http://iiif.io/api/presentation/4/context.json",
        "http://iiif.io/api/presentation/1/context.json",
    ],
)
def test_unknown_presentation_version(service: Service, tmp_path: Path, peru_pages: Pages, context: str) -> None:
    # Otherwise a perfectly indexable manifest: only its @context names a version we do not read.
    path = write_manifest(
        tmp_path / "future.json", peru_pages[8:10], "https://example.org/future", **{"@context": context}
    )
    version = context.split("/")[-2]
    assert_refused(
        service,
        path,
        f"IIIF Presentation {version} is not supported",
        what=f"manifest: unknown Presentation version {version}",
    )


# -- manifests without usable canvases ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("v3-empty-items", {"@context": V3, "id": "https://x/m", "type": "Manifest", "items": []}, "no canvases"),
        ("v3-no-items", {"@context": V3, "id": "https://x/m", "type": "Manifest"}, "no canvases"),
        (
            "v2-no-sequences",
            {
                "@context": "http://iiif.io/api/presentation/2/context.json",
                "@id": "https://x/m",
                "@type": "sc:Manifest",
            },
            "no canvases (it has no sequences)",
        ),
        (
            "v2-empty-sequence",
            {
                "@context": "http://iiif.io/api/presentation/2/context.json",
                "@id": "https://x/m",
                "@type": "sc:Manifest",
                "sequences": [{"@type": "sc:Sequence", "canvases": []}],
            },
            "no canvases (its first sequence lists none)",
        ),
        (
            "v3-items-not-canvases",
            {
                "@context": V3,
                "id": "https://x/m",
                "type": "Manifest",
                "items": [{"type": "Range", "id": "https://x/r"}, "https://x/c1", 7],
            },
            "is not a Canvas with an id",
        ),
    ],
)
def test_no_canvases(service: Service, tmp_path: Path, name: str, data: Any, expected: str) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data))
    assert_refused(service, path, expected, what=f"manifest: no canvases ({name})")


def test_a_canvas_without_an_image_fails_alone(service: Service, tmp_path: Path, peru_pages: Pages) -> None:
    manifest = hocr_manifest(peru_pages[8:11], "https://example.org/noimage")
    bare = manifest["items"][1]
    del bare["seeAlso"]
    bare["items"] = []  # no painting annotation: no image, and no OCR link either
    path = tmp_path / "noimage.json"
    path.write_text(json.dumps(manifest))
    status, text, summary = index_file(service, path, "--id", "no-image")
    assert status == 1 and text.startswith("PARTIAL no-image"), text
    assert "canvas 2 (2): the canvas has no image" in text
    assert summary["books"][0]["failed"] == [{"canvas": 1, "label": "2", "reason": "the canvas has no image"}]
    assert Store(service.data_dir).snapshot().book("no-image").page_count == 2  # type: ignore[union-attr]
    service.check("manifest: a canvas without an image")


def test_no_canvas_with_an_image_says_why(service: Service, tmp_path: Path, peru_pages: Pages) -> None:
    manifest = hocr_manifest(peru_pages[8:10], "https://example.org/noimages")
    for canvas in manifest["items"]:
        del canvas["seeAlso"]
        canvas["items"] = []
    path = tmp_path / "noimages.json"
    path.write_text(json.dumps(manifest))
    assert_refused(
        service,
        path,
        "no canvas could be read; nothing was written",
        "the canvas has no image",
        what="manifest: no canvas has an image",
    )


def test_canvases_without_width_and_height_are_skipped_by_name(
    service: Service, tmp_path: Path, peru_pages: Pages, caplog: pytest.LogCaptureFixture
) -> None:
    manifest = hocr_manifest(peru_pages[8:11], "https://example.org/nosize")
    for canvas in manifest["items"][:2]:
        del canvas["width"], canvas["height"]
        del canvas["items"][0]["items"][0]["body"]["width"]  # nor has its image a size to fall back on
    path = tmp_path / "nosize.json"
    path.write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING):
        status, text, _ = index_file(service, path, "--id", "no-size")
    assert status == 0 and "1 canvases" in text, text
    assert "items[0] (https://example.org/nosize/canvas/1) has no width/height" in caplog.text
    service.check("manifest: canvases without width/height")

    # All of them: a clear error and nothing written.
    for canvas in manifest["items"]:
        canvas.pop("width", None), canvas.pop("height", None)
        canvas["items"][0]["items"][0]["body"].pop("width", None)
    path.write_text(json.dumps(manifest))
    assert_refused(
        service,
        path,
        "has no usable canvases",
        "has no width/height, nor has its image (and 2 more)",
        what="manifest: no canvas has width/height",
    )


def test_a_canvas_with_absurd_sizes(service: Service, tmp_path: Path, peru_pages: Pages) -> None:
    manifest = hocr_manifest(peru_pages[8:12], "https://example.org/absurd")
    for canvas, (width, height) in zip(
        manifest["items"], [(0, 0), (-5, 10), ("wide", "tall"), (10**30, 10**30)], strict=True
    ):
        canvas["width"], canvas["height"] = width, height
        canvas["items"][0]["items"][0]["body"].update(width=width, height=height)
    path = tmp_path / "absurd.json"
    path.write_text(json.dumps(manifest))
    status, text, _ = index_file(service, path, "--id", "absurd")
    # Zero, negative and non-numeric sizes are no sizes; a huge one is a size, and boxes scale into it.
    assert status == 0 and "1 canvases" in text, text
    service.check("manifest: zero, negative, text and 10^30 canvas sizes")


# -- size -------------------------------------------------------------------------------------------------


def test_manifest_over_the_size_cap_over_http(service: Service, bad_http: BadHttp) -> None:
    # Streamed in chunks with no Content-Length: the cap is enforced while it arrives.
    url = bad_http.url("big", str(MAX_MANIFEST_BYTES + 10 * 1024 * 1024))
    assert_refused(
        service,
        url,
        f"body is larger than the limit of {MAX_MANIFEST_BYTES} bytes",
        what="manifest: 60 MB streamed over HTTP",
    )


def test_manifest_file_over_the_size_cap(service: Service, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as f:
        f.write(b'{"type": "Manifest", "padding": "')
        f.truncate(MAX_MANIFEST_BYTES + 1024)
    assert_refused(
        service,
        path,
        f"file is larger than the limit of {MAX_MANIFEST_BYTES} bytes",
        what="manifest: 50 MiB + 1 KiB file",
    )


def test_manifest_of_50_mb_under_the_cap_is_indexed(tmp_path: Path, peru_pages: Pages) -> None:
    # 50,000,000 bytes (the cap is 50 MiB): big, but legal; the padding is a summary no one reads.
    manifest = hocr_manifest(peru_pages[8:10], "https://example.org/big")
    manifest["summary"] = {"none": [""]}
    skeleton = len(json.dumps(manifest).encode())
    manifest["summary"]["none"][0] = "x" * (50_000_000 - skeleton)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(manifest))
    assert path.stat().st_size == 50_000_000
    result = run_index([str(path), "--id", "big", "--ocr", "existing"], tmp_path / "data")
    assert result.exit_code == 0, result.output
    assert Store(tmp_path / "data").snapshot().book("big").page_count == 2  # type: ignore[union-attr]


# -- collections ----------------------------------------------------------------------------------------


def _serve_manifest(bad_http: BadHttp, name: str, pages: Pages) -> str:
    """A manifest on the bad server whose canvases link hOCR on the same server."""
    url = bad_http.url("ok", f"{name}.json")
    manifest = hocr_manifest(pages, url)
    for n, canvas in enumerate(manifest["items"]):
        hocr = bad_http.add(f"{name}-{n}.hocr", pages[n][0].read_bytes(), "text/vnd.hocr+html")
        canvas["seeAlso"][0]["id"] = bad_http.url("ok", hocr)
    bad_http.add(f"{name}.json", json.dumps(manifest).encode(), "application/json")
    return url


def _serve_collection(bad_http: BadHttp, name: str, members: list[str], kinds: list[str]) -> str:
    url = bad_http.url("ok", f"{name}.json")
    collection = {
        "@context": V3,
        "id": url,
        "type": "Collection",
        "label": {"en": [name]},
        "items": [{"id": m, "type": k} for m, k in zip(members, kinds, strict=True)],
    }
    bad_http.add(f"{name}.json", json.dumps(collection).encode(), "application/ld+json")
    return url


def test_collection_that_contains_itself(
    service: Service, bad_http: BadHttp, peru_pages: Pages, caplog: pytest.LogCaptureFixture
) -> None:
    member = _serve_manifest(bad_http, "loop-member", peru_pages[30:32])
    url = bad_http.url("ok", "loop.json")
    _serve_collection(bad_http, "loop", [url, member, url], ["Collection", "Manifest", "Collection"])
    with caplog.at_level(logging.WARNING):
        result = run_index([url, "--json"], service.data_dir)
    summary = summary_of(result)
    assert result.exit_code == 0 and summary["canvases"] == 2, result.output
    assert "is listed again (a cycle or a duplicate); skipped" in caplog.text
    service.check("collection: contains itself")


def test_two_collections_that_list_each_other(service: Service, bad_http: BadHttp, peru_pages: Pages) -> None:
    member = _serve_manifest(bad_http, "pair-member", peru_pages[32:33])
    a, b = bad_http.url("ok", "pair-a.json"), bad_http.url("ok", "pair-b.json")
    _serve_collection(bad_http, "pair-a", [b, member], ["Collection", "Manifest"])
    _serve_collection(bad_http, "pair-b", [a, member], ["Collection", "Manifest"])
    result = run_index([a, "--json"], service.data_dir)
    assert result.exit_code == 0 and summary_of(result)["canvases"] == 1, result.output
    service.check("collection: two that list each other")


def test_collection_of_only_itself_is_an_error(service: Service, bad_http: BadHttp) -> None:
    url = bad_http.url("ok", "only-self.json")
    _serve_collection(bad_http, "only-self", [url], ["Collection"])
    assert_refused(service, url, "the Collection lists no manifest", what="collection: only itself")


def test_collection_whose_members_are_broken(service: Service, bad_http: BadHttp, peru_pages: Pages) -> None:
    good = _serve_manifest(bad_http, "mixed-good", peru_pages[34:35])
    members = [bad_http.url("status/404", "gone.json"), bad_http.url("html", "login.json"), "file:///etc/passwd", good]
    url = _serve_collection(bad_http, "mixed", members, ["Manifest"] * 4)
    result = run_index([url], service.data_dir)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("FAILED") and "HTTP 404" in line for line in lines), result.output
    assert any(line.startswith("FAILED") and "not JSON" in line for line in lines), result.output
    assert any("is not an http(s) URI; not fetched" in line for line in lines), result.output
    assert any(line.startswith("ok") for line in lines), result.output
    service.check("collection: 404, HTML and file:// members beside a good one")


def test_a_bad_reindex_keeps_the_previous_book(service: Service, tmp_path: Path, peru_pages: Pages) -> None:
    """Re-indexing a book id from a manifest whose every canvas fails writes nothing: the old pages stay."""
    path = write_manifest(tmp_path / "keep.json", peru_pages[40:43], "https://example.org/keep")
    assert run_index([str(path), "--id", "keep"], service.data_dir).exit_code == 0
    before = Store(service.data_dir).snapshot().book("keep")
    broken = copy.deepcopy(json.loads(path.read_text()))
    for canvas in broken["items"]:
        canvas["seeAlso"][0]["id"] = (tmp_path / "missing.hocr").as_uri()
    path.write_text(json.dumps(broken))
    result = run_index([str(path), "--id", "keep", "--ocr", "existing"], service.data_dir)
    assert result.exit_code == 1 and "no such file" in result.stdout, result.output
    assert "PARTIAL keep" in result.stdout and "(3 kept from the previous index)" in result.stdout, result.output
    after = Store(service.data_dir).snapshot().book("keep")
    assert after is not None and before is not None and after.page_count == before.page_count == 3
    service.check("manifest: re-index of a book whose OCR files are gone")
