"""Fixtures for the search API: a real index of real hOCR on real manifests, and clients over it.

The index is built once per session with the product's own path (ocr.hocr ->
indexer.page_record -> Store.replace_book) from the test data (tests/data):

- `fish`: the Wellcome Presentation 3.0 manifest (131 canvases, declares Wellcome's own
  Search 1.0 service); its first 120 canvases carry pages 1-120 of the Google Books
  hOCR of *Histoire du Pérou* (French, 1840): many hits, for paging;
- `stanford`: the Stanford Presentation 2.1 manifest (5 canvases, declares a search/0
  service); its canvases carry five BSB / Chronicling America hOCR pages with words
  hyphenated across line ends;
- `folder`: a manifest as `indexer/sources/folder.py` writes it, every URL starting with
  BASE_URL_MARKER, with the hocr-tools Alice page and the DTA page.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.index.records import BookRecord, PageRecord
from indexer.index.snapshot import Snapshot
from indexer.index.store import Store
from indexer.model import BASE_URL_MARKER, Canvas
from indexer.page_record import page_record
from indexer.sources import read_manifest_v2, read_manifest_v3
from ocr.hocr import parse_pages
from ocr.model import Page
from search_service.settings import Settings
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS, read_test_file

BASE = "http://testserver"

FISH_PAGES = 120
STANFORD_HOCR = (
    "solr-ocrhighlighting/bsb00091144_hyphenation.hocr.html",
    "solr-ocrhighlighting/bsb10049004_multicolumn.hocr",
    "solr-ocrhighlighting/chronicling_america_abbyy_seq-1.hocr.html",
    "solr-ocrhighlighting/bsb00001166_newspaper.hocr",
    "solr-ocrhighlighting/tesseract411_ordine_nuovo_1924_ita.hocr",
)
FOLDER_HOCR = (
    "hocr-tools/alice_1.tesseract303.hocr",
    "mirador-textoverlay/dta_andreas_fenitschka_1898_p24.tesseract4.hocr.html",
)


def _label(value: Any) -> str:
    """A display string from a v2 or v3 label."""
    if isinstance(value, dict):
        for key in ("en", "none", *value):
            if value.get(key):
                return str(value[key][0])
        return ""
    if isinstance(value, list):
        return _label(value[0]) if value else ""
    return "" if value is None else str(value)


def manifest_canvases(manifest: dict[str, Any]) -> list[Canvas]:
    """The canvases of a Presentation 2.1 or 3.0 manifest, with their canvas-unit sizes and images.

    The images as the indexer's readers find them: a page keeps its canvas's image (#20).
    """
    if "items" in manifest:
        raw = [(c["id"], c.get("label"), c["width"], c["height"]) for c in manifest["items"]]
        read = read_manifest_v3
    else:
        raw = [(c["@id"], c.get("label"), c["width"], c["height"]) for c in manifest["sequences"][0]["canvases"]]
        read = read_manifest_v2
    images = {canvas.index: canvas.image for canvas in read(manifest, "test", "test").canvases}
    return [
        Canvas(id=i, index=n, label=_label(label), width=w, height=h, image=images.get(n))
        for n, (i, label, w, h) in enumerate(raw)
    ]


def folder_manifest(book_id: str, pages: list[Page]) -> dict[str, Any]:
    """A P3 manifest shaped like the one indexer/sources/folder.py writes: URLs start with the marker."""
    base = f"{BASE_URL_MARKER}/iiif"
    items = []
    for n, page in enumerate(pages, start=1):
        canvas_id = f"{base}/{book_id}/canvas/p{n}"
        service = f"{base}/image/3/{book_id}~{n:04d}"
        items.append(
            {
                "id": canvas_id,
                "type": "Canvas",
                "label": {"none": [f"p. {n}"]},
                "width": page.width,
                "height": page.height,
                "items": [
                    {
                        "id": f"{canvas_id}/painting",
                        "type": "AnnotationPage",
                        "items": [
                            {
                                "id": f"{canvas_id}/painting/image",
                                "type": "Annotation",
                                "motivation": "painting",
                                "body": {
                                    "id": f"{service}/full/max/0/default.jpg",
                                    "type": "Image",
                                    "format": "image/jpeg",
                                    "width": page.width,
                                    "height": page.height,
                                    "service": [{"id": service, "type": "ImageService3", "profile": "level1"}],
                                },
                                "target": canvas_id,
                            }
                        ],
                    }
                ],
            }
        )
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}/{book_id}/manifest",
        "type": "Manifest",
        "label": {"en": ["Folder book"]},
        "items": items,
    }


def build_book(
    store: Store, book_id: str, manifest: dict[str, Any], pages: list[Page], version: int
) -> list[PageRecord]:
    """Index `pages` on the first canvases of `manifest`, the way the pipeline does."""
    canvases = manifest_canvases(manifest)
    records = [page_record(book_id, canvas, page) for canvas, page in zip(canvases, pages, strict=False)]
    manifest_id = manifest.get("id") or manifest["@id"]
    record = BookRecord(
        id=book_id,
        label=_label(manifest.get("label")),
        manifest_id=manifest_id,
        version=version,
        source=manifest_id,
        manifest=manifest,
        canvas_count=len(canvases),
        page_count=len(records),
        word_count=sum(len(r.words) for r in records),
    )
    store.replace_book(record, records)
    return records


class Corpus:
    """The session index: its data folder and the PageRecords written, by book."""

    def __init__(
        self, data_dir: Path, records: dict[str, list[PageRecord]], manifests: dict[str, dict[str, Any]]
    ) -> None:
        self.data_dir = data_dir
        self.records = records
        self.manifests = manifests


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory, test_data: Path) -> Corpus:
    data_dir = tmp_path_factory.mktemp("search-index")
    hocr = Path("ocr/hocr")
    manifests_dir = test_data / "iiif" / "manifests"
    store = Store(data_dir)
    records: dict[str, list[PageRecord]] = {}
    manifests: dict[str, dict[str, Any]] = {}

    fish = json.loads(
        (manifests_dir / "v3" / "wellcome_b21506115_fish_entrees_131canvases_search1_v3.json").read_text()
    )
    perou = parse_pages(
        read_test_file(hocr / "solr-ocrhighlighting/google1000_histoire_du_perou_1840_347pages.hocr.html")
    )
    records["fish"] = build_book(store, "fish", fish, perou[:FISH_PAGES], 3)
    manifests["fish"] = fish

    stanford = json.loads((manifests_dir / "v2" / "stanford_fg165hz3589_with_search1.json").read_text())
    pages = [parse_pages(read_test_file(hocr / name))[0] for name in STANFORD_HOCR]
    records["stanford"] = build_book(store, "stanford", stanford, pages, 2)
    manifests["stanford"] = stanford

    pages = [parse_pages(read_test_file(hocr / name))[0] for name in FOLDER_HOCR]
    folder = folder_manifest("folder", pages)
    records["folder"] = build_book(store, "folder", folder, pages, 3)
    manifests["folder"] = folder
    return Corpus(data_dir, records, manifests)


@pytest.fixture
def settings(corpus: Corpus) -> Settings:
    return Settings(
        allowed_hosts=TEST_HOSTS, data_dir=corpus.data_dir, page_size=100, autocomplete_limit=20, max_query_length=500
    )


@pytest.fixture
def make_client(corpus: Corpus) -> Callable[..., httpx.AsyncClient]:
    """A factory of in-process clients, for tests that need other settings (page size...)."""

    def make(**overrides: Any) -> httpx.AsyncClient:
        options: dict[str, Any] = {"allowed_hosts": TEST_HOSTS, "data_dir": corpus.data_dir, **overrides}
        app = create_app(Settings(**options))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    return make


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


@pytest.fixture
def snapshot(corpus: Corpus) -> Iterator[Snapshot]:
    """A read snapshot of the session index, for the pure-function tests."""
    snap = Store(corpus.data_dir).snapshot()
    yield snap
    snap.close()


def same_shape(
    ours: Any,
    example: Any,
    extra: frozenset[str] | None = None,
    optional: frozenset[str] = frozenset(),
    path: str = "$",
) -> list[str]:
    """Where `ours` differs in structure from `example`: missing keys, other value types.

    Dicts must hold every key of the example except those in `optional` (MAY
    properties we document not giving); beyond the example's keys, only keys in
    `extra` (our documented additions) are allowed, or any key when `extra` is None.
    Lists are compared item by item against the example's first item (an empty
    example list accepts any items); scalars by JSON type (ints and floats are both
    numbers). Returns human-readable differences, [] when alike.
    """
    problems: list[str] = []
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [f"{path}: expected an object, got {type(ours).__name__}"]
        for key, value in example.items():
            if key not in ours:
                if key not in optional:
                    problems.append(f"{path}: missing key {key!r}")
            else:
                problems.extend(same_shape(ours[key], value, extra, optional, f"{path}.{key}"))
        if extra is not None:
            problems.extend(
                f"{path}: undocumented key {key!r}" for key in ours if key not in example and key not in extra
            )
        return problems
    if isinstance(example, list):
        if not isinstance(ours, list):
            return [f"{path}: expected an array, got {type(ours).__name__}"]
        if example and not ours:
            return [f"{path}: expected a non-empty array"]
        if example:
            for i, item in enumerate(ours):
                problems.extend(same_shape(item, example[0], extra, optional, f"{path}[{i}]"))
        return problems
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", type(None): "null"}
    if kinds.get(type(ours)) != kinds.get(type(example)):
        return [f"{path}: expected {kinds.get(type(example))}, got {type(ours).__name__}"]
    return problems


def total_v2(body: dict[str, Any]) -> int:
    """The hit count of a Search 2.0 response: `partOf[0].total` when paged, else its match annotations.

    A result that fits on one page is the spec's simple list without `partOf` (§4.2.1);
    it holds one `contextualizing` annotation per hit (docs/api.md).
    """
    if "partOf" in body:
        (collection,) = body["partOf"]
        total: int = collection["total"]
        return total
    return len(body["annotations"][0]["items"]) if "annotations" in body else 0
