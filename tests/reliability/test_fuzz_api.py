"""Property-based fuzz of the whole HTTP API from its own OpenAPI description (#6), with schemathesis.

Every operation of `/openapi.json` gets `MAX_EXAMPLES` generated requests, valid and
invalid by the schema (hypothesis explores types, lengths, unicode and missing
parameters), against the app in process over the session's seeded index and image root.
Half of them have their book id replaced by the indexed book, so the search code runs
too, not only the 404 of an unknown book. The one property: no 5xx, except the 501
that Image API 3.0 §7.3 prescribes for features above level 1; and every error of the
JSON routes has the one error shape.

Bounded: ~50 examples per operation, under a minute on 2 cores. A longer run for a
bench is `FUZZ_EXAMPLES=500 .venv/bin/pytest tests/reliability/test_fuzz_api.py -s`.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.index.library import Library
from indexer.index.records import BookRecord
from indexer.index.store import Store
from indexer.model import Canvas
from indexer.page_record import page_record
from ocr import hocr
from ocr.text import tokens
from search_service.settings import Settings
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS
from tests.reliability.conftest import SEED_ID, Service

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
RESULTS: Counter[str] = Counter()

# The schema is read at import from an app over no index (it only needs the routes); the
# requests go to `fuzz_app`, over the session's seeded index. (schemathesis 4.32's
# `pytest.from_fixture` does not run under pytest 9: it reads `Function._nodeid`.)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=Path("/nonexistent")))
)


@pytest.fixture(scope="module")
def fuzz_app(service: Service, bad_images: Path) -> Any:
    return create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=service.data_dir, image_roots=[bad_images]))


@pytest.fixture(scope="module", autouse=True)
def report(service: Service) -> Iterator[None]:
    yield
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(RESULTS.items()) if k.isdigit())
    paths = {k.split(" ", 2)[2] for k in RESULTS if k.startswith("op ")}
    methods = {k.split(" ", 2)[1] for k in RESULTS if k.startswith("op ")}
    print(
        f"\nfuzz: {RESULTS['requests']} requests over {len(paths)} paths ({', '.join(sorted(methods))}); "
        f"statuses {statuses}; 5xx: {sum(v for k, v in RESULTS.items() if k.isdigit() and k.startswith('5'))}"
    )
    service.check("fuzz: schemathesis over every operation")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_no_5xx(case: Any, fuzz_app: Any) -> None:
    if case.path_parameters and "book_id" in case.path_parameters and RESULTS["requests"] % 2 == 0:
        case.path_parameters["book_id"] = SEED_ID
    response = case.call(app=fuzz_app)
    RESULTS["requests"] += 1
    RESULTS[str(response.status_code)] += 1
    RESULTS[f"op {case.method} {case.path}"] += 1
    status = response.status_code
    image = case.path.startswith("/iiif/image/")
    assert status < 500 or (status == 501 and image), (
        case.method,
        case.formatted_path,
        case.query,
        status,
        response.text[:300],
    )
    assert "Traceback" not in response.text
    content_type = (response.headers.get("content-type") or [""])[0]  # schemathesis keeps header lists
    # The Auth 1.0 token service's errors have the spec's own shape ({error, description}, Auth 1.0 §3.3.2).
    spec_shaped = case.path == "/auth/1/token"
    if status >= 400 and not image and not spec_shaped and content_type.startswith("application/json"):
        body = response.json()
        assert set(body) <= {"error", "status", "parameter"} and body["status"] == status, body


# -- the query parser against the indexer: what is printed is found ------------------------------------------

# Printed words: letters (any script), marks, digits, dashes and other punctuation; not `"` or `*`,
# which are the query language's own operators (docs/query-language.md).
PRINTED = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "Pd", "Po"], exclude_characters='"*\u0130'),
    min_size=1,
    max_size=14,
).filter(lambda word: bool(tokens(word)))
BOOKS = itertools.count()


@pytest.fixture(scope="module")
def word_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Any]:
    data_dir = tmp_path_factory.mktemp("printed-words")
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=data_dir))
    # Sees each example's commit at once: the Library every route reads (#22), and its public Store.
    app.state.library = Library(data_dir, refresh_interval=0)
    app.state.store = app.state.library.store("public")
    return Store(data_dir), app


def _index_line(store: Store, book: str, words: list[str]) -> None:
    spans = " ".join(
        f"<span class='ocrx_word' title='bbox {20 + 150 * i} 20 {160 + 150 * i} 60'>{html.escape(w)}</span>"
        for i, w in enumerate(words)
    )
    page = hocr.parse(
        f"<div class='ocr_page' title='bbox 0 0 {200 + 150 * len(words)} 100'>"
        f"<span class='ocr_line' title='bbox 0 0 {200 + 150 * len(words)} 100'>{spans}</span></div>".encode()
    )
    canvas = Canvas(
        id=f"https://example.org/{book}/c1", index=0, label="1", width=page.width, height=page.height, image=None
    )
    record = page_record(book, canvas, page)
    store.replace_book(
        BookRecord(
            id=book,
            label=book,
            manifest_id=f"https://example.org/{book}",
            version=3,
            source="test",
            manifest={},
            canvas_count=1,
            page_count=1,
            word_count=len(record.words),
        ),
        [record],
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(words=st.lists(PRINTED, min_size=1, max_size=6), choice=st.data())
def test_a_printed_word_is_found_by_typing_it(
    word_index: tuple[Store, Any], words: list[str], choice: st.DataObject
) -> None:
    """Index and query share one normalisation: any word printed on a page, typed as the query
    (as is, upper-cased, or cut to a prefix with `*`), finds that page, and the hit's box is the word's."""
    store, app = word_index
    book = f"w{next(BOOKS)}"
    _index_line(store, book, words)
    position = choice.draw(st.integers(0, len(words) - 1))
    word = words[position]
    q = choice.draw(st.sampled_from([word, word.upper(), f"{word[: max(1, len(word) // 2)]}*"]))
    if not tokens(q.rstrip("*")):
        return  # half a word can be punctuation only: nothing to look for

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            return await client.get(f"/iiif/{book}/search/1", params={"q": q})

    response = asyncio.run(ask())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["within"]["total"] >= 1, (words, q, tokens(q))
    x = 20 + 150 * position
    boxes = [tuple(int(v) for v in r["on"].split("#xywh=")[1].split(",")) for r in body["resources"]]
    assert any(bx <= x + 1 and bx + bw >= x + 139 for bx, _, bw, _ in boxes), (words, q, boxes)
