"""One hit model for every Search 2.0 reader (#12): each reading style gets the same hits.

The readers, as their source reads a response (docs/viewers.md, docs/api.md):

- Tamerlane (`src/service/search.ts`): hits are the annotations of the `annotations`
  pages whose motivation is `contextualizing` or `highlighting`; each target's `source`
  is looked up among the `items` (and annotations) seen so far, its `target` gives the
  canvas and box, its `TextQuoteSelector` the text; `next` (a string or an object with
  `id`) is followed for up to 10 pages; an array target gives one snippet per target;
- Clover and Triiiceratops: the `items` of the page, body `value` and `target`
  (Triiiceratops adds the selector text of the match annotation naming the item in
  `source`); one page;
- Mirador and UV read Search 1.0, whose hits are the reference here.

`walk_like_tamerlane` follows search.ts step by step over real responses of the
in-process app, so its result is what Tamerlane would list; each hit must come out
exactly once with the boxes of its lines, the same hits, in the same order, as
Search 1.0's. (Real Tamerlane first parses each page with Maniiifest 2.1.3, which types
`next` as a string and rejects the object Search 2.0 §4.2.2 asks for, so it stops at
the first page of a paged result; see docs/api.md.)
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.search_service.conftest import BASE, total_v2

#: Tamerlane's `maxSearchPages` default (src/config/appConfig.ts).
TAMERLANE_MAX_PAGES = 10
HIT_MOTIVATIONS = ("highlighting", "contextualizing")

Getter = Callable[[str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Snippet:
    """One entry of Tamerlane's result list (IIIFSearchSnippet), plus the hit annotation it came from."""

    hit_id: str
    id: str
    annotation_id: str
    canvas: str
    box: str
    prefix: str | None
    exact: str
    suffix: str | None


async def walk_like_tamerlane(get: Getter, url: str) -> tuple[list[Snippet], int]:
    """Tamerlane's `searchAnnotations(url)`: its snippets, and how many pages it read."""
    lookup: dict[str, dict[str, Any]] = {}
    hits: list[dict[str, Any]] = []
    next_url: str | None = url
    pages = 0
    while next_url and pages < TAMERLANE_MAX_PAGES:
        data = await get(next_url)
        assert data["type"] == "AnnotationPage"
        for annotation in data.get("items", []):  # first pass: the base annotations, with geometry
            if annotation.get("id"):
                lookup[annotation["id"]] = annotation
        for annotation_page in data.get("annotations", []):  # second pass: the hits
            for annotation in annotation_page.get("items", []):
                if annotation.get("id"):
                    lookup[annotation["id"]] = annotation
                motivation = annotation.get("motivation")
                motivations = motivation if isinstance(motivation, list) else [motivation]
                if any(m in HIT_MOTIVATIONS for m in motivations):
                    hits.append(annotation)
        next_page = data.get("next")
        next_url = next_page if isinstance(next_page, str) else (next_page or {}).get("id")
        pages += 1
    snippets: list[Snippet] = []
    for hit in hits:
        targets = hit["target"] if isinstance(hit["target"], list) else [hit["target"]]
        for index, target in enumerate(targets):
            snippet = _snippet(hit, target, lookup, index)
            if snippet is not None:
                snippets.append(snippet)
    return snippets, pages


def _snippet(hit: dict[str, Any], target: dict[str, Any], lookup: dict[str, Any], index: int) -> Snippet | None:
    """search.ts `buildSnippetFromSingleTarget`: None where Tamerlane drops the target."""
    source = target.get("source")
    if not isinstance(source, str) or source not in lookup:
        return None
    base_target = lookup[source]["target"]
    # A string, an object with `id` (collection-wide results), or a SpecificResource.
    canvas_target = base_target if isinstance(base_target, str) else base_target.get("id") or base_target["source"]
    selectors = target.get("selector")
    selectors = selectors if isinstance(selectors, list) else [selectors]
    quote = next((s for s in selectors if isinstance(s, dict) and s.get("type") == "TextQuoteSelector"), None)
    if not quote or not quote.get("exact"):
        return None
    return Snippet(
        hit_id=hit["id"],
        id=hit["id"] if index == 0 else f"{hit['id']}-{index}",
        annotation_id=source,
        canvas=canvas_target.split("#")[0],
        box=canvas_target.split("#xywh=")[1],
        prefix=quote.get("prefix"),
        exact=quote["exact"],
        suffix=quote.get("suffix"),
    )


async def hits_of_1_0(get: Getter, url: str) -> list[tuple[str, tuple[str, ...], str]]:
    """Every hit of a Search 1.0 result, all pages: (canvas, boxes of its lines, matched text)."""
    found = []
    next_url: str | None = url
    while next_url:
        data = await get(next_url)
        on = {r["@id"]: r["on"] for r in data["resources"]}
        for hit in data.get("hits", []):
            targets = [on[a] for a in hit["annotations"]]
            found.append((targets[0].split("#")[0], tuple(t.split("#xywh=")[1] for t in targets), hit["match"]))
        next_url = data.get("next")
    return found


def letters(text: str) -> str:
    """Text without spaces and hyphens, to compare a hit's lines with its whole match."""
    return re.sub(r"[\s\u00ad\-¬]", "", text)


def getter(client: httpx.AsyncClient) -> Getter:
    async def get(url: str) -> dict[str, Any]:
        response = await client.get(url.removeprefix(BASE))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return get


@pytest.mark.parametrize(
    ("book", "q", "pages"),
    [
        ("fish", "de la", 7),  # paged: Tamerlane follows `next`
        ("fish", "de", 9),
        ("stanford", "verbunden", 1),  # one hit over two lines: one annotation with two targets
        ("fish", "est dire", 1),  # two hits in one printed word ("c'est-à-dire"): one item, two hits
        ("fish", "xylophone", 1),  # nothing: no annotations at all
    ],
)
async def test_tamerlane_gets_every_hit_once_with_its_boxes(
    make_client: Callable[..., httpx.AsyncClient], book: str, q: str, pages: int
) -> None:
    async with make_client() as client:
        total = (await getter(client)(f"/iiif/{book}/search/1?q={q}"))["within"]["total"]
    page_size = max(1, math.ceil(total / pages))
    async with make_client(page_size=page_size) as client:
        get = getter(client)
        snippets, read = await walk_like_tamerlane(get, f"{BASE}/iiif/{book}/search/2?q={q}")
        expected = await hits_of_1_0(get, f"{BASE}/iiif/{book}/search/1?q={q}")
        first = await get(f"/iiif/{book}/search/2?q={q}")
    assert read == pages <= TAMERLANE_MAX_PAGES
    assert total_v2(first) == total == len(expected)
    # Each hit once: its snippets are consecutive, one per line, and no hit comes back later.
    hit_ids = [s.hit_id for s in snippets]
    order = list(dict.fromkeys(hit_ids))
    assert len(order) == total
    assert hit_ids == [h for h in order for _ in range(hit_ids.count(h))]
    walked = [
        (
            group[0].canvas,
            tuple(s.box for s in group),
            html.unescape("".join(s.exact for s in group)),
        )
        for group in ([s for s in snippets if s.hit_id == h] for h in order)
    ]
    # The same hits as Search 1.0, in the same order, with the same boxes and text
    # (1.0 shows a hit over two lines as one `match`, a hyphenated word whole; 2.0 quotes each line).
    assert [(canvas, boxes) for canvas, boxes, _ in walked] == [(canvas, boxes) for canvas, boxes, _ in expected]
    for (_, _, text), (_, _, match) in zip(walked, expected, strict=True):
        assert letters(text) == letters(html.unescape(match))


async def test_clover_and_triiiceratops_read_the_same_boxes_from_items(
    make_client: Callable[..., httpx.AsyncClient],
) -> None:
    """`items` on each page hold exactly the lines of that page's hits: what Tamerlane
    resolves through `source` is what Clover and Triiiceratops list."""
    async with make_client(page_size=40) as client:
        get = getter(client)
        url: str | None = f"{BASE}/iiif/fish/search/2?q=de la"
        while url:
            data = await get(url)
            items = {item["id"]: item for item in data["items"]}
            sources = [
                target["source"]
                for hit in data["annotations"][0]["items"]
                for target in (hit["target"] if isinstance(hit["target"], list) else [hit["target"]])
            ]
            # Every item is the source of a match annotation (Triiiceratops keys its context by
            # `source`), and every source is an item of the same page (Tamerlane's lookup).
            assert set(sources) == set(items)
            next_page = data.get("next")
            url = next_page["id"] if next_page else None
