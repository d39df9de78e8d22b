"""Search 2.0 responses: the shape of every 2.0 example in the spec, and the spec's MUSTs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocr.model import Box
from search_service.search.contexts import SEARCH2_CONTEXT
from search_service.search.hits import Hit, HitPage, Match, Term
from search_service.search.search_v2 import annotation_page, term_page
from search_service.search.urls import ManifestRef, ResultLinks
from tests.search_service.conftest import Corpus, same_shape, total_v2

#: Keys we add beyond the spec examples, each documented in docs/api.md: paging (§4.2.2),
#: the extended `annotations` page (§4.3), `service` on autocomplete terms (§5.3).
EXTRA = frozenset(
    {"partOf", "first", "last", "total", "next", "prev", "startIndex", "annotations", "ignored", "id", "service"}
)
TARGET = re.compile(r"^(?P<canvas>[^#]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")


def example(spec_examples: Path, name: str) -> Any:
    return json.loads((spec_examples / name).read_text(encoding="utf-8"))


async def get(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the spec's examples -----------------------------------------------------------------------


async def test_simple_list(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/stanford/search/2?q=Subjekts&motivation=highlighting")
    spec = example(spec_examples, "search2-response-simple-list.json")
    assert (
        same_shape(ours, spec, frozenset({"annotations", "id", "items", "type", "target", "source", "selector"})) == []
    )
    assert ours["@context"] == SEARCH2_CONTEXT
    assert all(item["motivation"] == "highlighting" for item in ours["items"])
    # Every hit on one page: the simple list of §4.2.1, none of §4.2.2's paging properties.
    assert not {"partOf", "next", "prev", "startIndex"} & set(ours)
    assert "partOf" not in ours["annotations"][0]


async def test_paged_first_page(make_client: Callable[..., httpx.AsyncClient], spec_examples: Path) -> None:
    async with make_client(page_size=10) as client:
        ours = await get(client, "/iiif/fish/search/2?q=de")
    # `partOf` is a one-element array (docs/api.md: Clover 3.x drops a response whose partOf
    # is an object); in JSON-LD it is the same statement as the example's object.
    (part,) = ours["partOf"]
    assert (
        same_shape({**ours, "partOf": part}, example(spec_examples, "search2-response-paged-first-page.json"), EXTRA)
        == []
    )
    assert part["id"] == "http://testserver/iiif/fish/search/2?q=de"
    assert part["type"] == "AnnotationCollection"
    assert part["first"] == {"id": "http://testserver/iiif/fish/search/2?q=de&page=0", "type": "AnnotationPage"}
    assert part["last"]["id"].endswith(f"page={(part['total'] - 1) // 10}")
    assert ours["id"] == part["first"]["id"]
    assert ours["next"] == {"id": "http://testserver/iiif/fish/search/2?q=de&page=1", "type": "AnnotationPage"}
    assert ours["startIndex"] == 0 and "prev" not in ours


async def test_ignored_parameters(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/fish/search/2?q=roi&user=https%3A%2F%2Fexample.com%2Fusers%2Fwigglesworth")
    assert same_shape(ours, example(spec_examples, "search2-response-ignored-parameters.json"), EXTRA) == []
    assert ours["ignored"] == ["user"]
    assert "user" not in ours["id"]  # §4.2.4 MAY omit them from the id


async def test_match_context(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/stanford/search/2?q=Oszilliation")
    assert same_shape(ours, example(spec_examples, "search2-response-match-context.json"), EXTRA) == []
    (context,) = ours["annotations"][0]["items"]
    assert context["motivation"] == "contextualizing"
    selector = context["target"]["selector"][0]
    assert selector["type"] == "TextQuoteSelector"
    assert selector["exact"] == "Oszilliation"
    assert selector["prefix"].endswith("den mit der ") and selector["suffix"].startswith(" zwischen")
    assert context["target"]["source"] == ours["items"][0]["id"]


async def test_match_highlighting_shape(client: httpx.AsyncClient, spec_examples: Path) -> None:
    """§4.3.2's extra annotation has the same structure as ours; we say `contextualizing`
    because our annotations are single words (§4.3.1), not longer lines."""
    ours = await get(client, "/iiif/stanford/search/2?q=Oszilliation")
    assert same_shape(ours, example(spec_examples, "search2-response-match-highlighting.json"), EXTRA) == []


async def test_multi_match_annotation(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/stanford/search/2?q=Subjekt*")
    spec = example(spec_examples, "search2-response-multi-match-annotation.json")
    # The example is a later page of a paged result; ours fits on one, the simple list without partOf.
    assert same_shape(ours, spec, EXTRA, optional=frozenset({"partOf"})) == []
    inner = ours["annotations"][0]
    # One match annotation per hit, two of them in the printed word "Subjekts-".
    assert len(inner["items"]) == total_v2(ours) and "partOf" not in inner
    assert inner["id"] == ours["id"] + "#matches"


async def test_multi_annotation_match(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, '/iiif/stanford/search/2?q="Frisch drückt die innere"')
    spec = example(spec_examples, "search2-response-multi-annotation-match.json")
    # The example's own targets differ: the first has prefix+exact, the second exact+suffix.
    # Its inner page embeds a collection (§4.3.3 MAY); ours does not (docs/api.md).
    optional = frozenset({"prefix", "suffix", "partOf"})
    assert same_shape(ours, spec, EXTRA | {"suffix"}, optional=optional) == []
    assert [item["body"]["value"] for item in ours["items"]] == ["Frisch drückt", "die innere"]
    (context,) = ours["annotations"][0]["items"]
    first, second = context["target"]
    assert [first["source"], second["source"]] == [item["id"] for item in ours["items"]]
    assert first["selector"][0]["exact"] == "Frisch drückt" and "suffix" not in first["selector"][0]
    assert second["selector"][0]["exact"] == "die innere" and "prefix" not in second["selector"][0]
    assert "prefix" in first["selector"][0] and "suffix" in second["selector"][0]


async def test_containing_resource(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/search/2?q=inca*&motivation=highlighting")
    spec = example(spec_examples, "search2-response-containing-resource-partOf.json")
    # A language map's keys are data: the language of a book's title is not known, so "none" (P3 §4.4).
    assert same_shape(ours, spec, EXTRA | {"none"}, optional=frozenset({"en"})) == []
    assert {item["id"].split("/")[4] for item in ours["items"]} == {"fish", "stanford"}
    for item in ours["items"]:
        part = item["target"]["partOf"]
        assert part["type"] == "Manifest"
        book = item["id"].split("/")[4]  # http://testserver/iiif/{book}/annotation/...
        assert part["id"] == f"http://testserver/iiif/{book}/manifest"
        assert part["label"] == {"none": [part["label"]["none"][0]]}
        assert TARGET.match(item["target"]["id"])


async def test_autocomplete_simple(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/fish/autocomplete/2?q=inc")
    assert same_shape(ours, example(spec_examples, "search2-autocomplete-simple.json"), EXTRA) == []


async def test_autocomplete_extended(client: httpx.AsyncClient, spec_examples: Path) -> None:
    """Terms carry `value`, `total` and the search `service` (§5.3); `language` and `label`
    (MAY) are not given: the words are as printed, in whatever language the page is."""
    ours = await get(client, "/iiif/fish/autocomplete/2?q=inc&user=x")
    spec = example(spec_examples, "search2-autocomplete-extended.json")
    assert same_shape(ours, spec, EXTRA, optional=frozenset({"language", "label"})) == []
    service_term = {k: v for k, v in spec["items"][1].items() if k not in ("type", "label")}
    for term in ours["items"]:
        assert same_shape(term, service_term, frozenset()) == []
        assert term["service"] == [
            {"id": f"http://testserver/iiif/fish/search/2?q={term['value']}", "type": "SearchService2"}
        ]
    assert ours["ignored"] == ["user"]


# -- MUSTs beyond shape -----------------------------------------------------------------------


async def test_items_are_fully_embedded_annotations(client: httpx.AsyncClient, corpus: Corpus) -> None:
    ours = await get(client, "/iiif/fish/search/2?q=de la")
    canvases = {c["id"] for c in corpus.manifests["fish"]["items"]}
    for item in ours["items"]:
        assert item["type"] == "Annotation"
        assert item["body"]["type"] == "TextualBody" and item["body"]["format"] == "text/html"
        match = TARGET.match(item["target"])
        assert match and match["canvas"] in canvases
    sources = [
        t["source"]
        for c in ours["annotations"][0]["items"]
        for t in ([c["target"]] if isinstance(c["target"], dict) else c["target"])
    ]
    assert set(sources) == {item["id"] for item in ours["items"]}


def _hit() -> Hit:
    matches = (Match("verbun-", Box(10, 20, 30, 40), 2, 12, 12), Match("den", Box(1, 70, 9, 40), 3, 13, 13))
    return Hit("b", 4, "https://example.org/c5", "verbunden", "", " mit", matches, first_token=9, last_token=9)


def test_renderer_of_a_hit_over_two_lines() -> None:
    page = HitPage((_hit(),), 1, 0, 10)
    refs = {"b": ManifestRef("https://s/iiif/b/manifest", "Book")}
    data = annotation_page(
        page, ResultLinks("https://s/iiif/search/2", (("q", "verbunden"),)), "https://s", manifests=refs
    )
    assert [item["id"] for item in data["items"]] == [
        "https://s/iiif/b/annotation/4-12-12-2",
        "https://s/iiif/b/annotation/4-13-13-3",
    ]
    assert data["items"][0]["target"] == {
        "id": "https://example.org/c5#xywh=10,20,30,40",
        "partOf": {"id": "https://s/iiif/b/manifest", "type": "Manifest", "label": {"none": ["Book"]}},
    }
    (context,) = data["annotations"][0]["items"]
    assert context["id"] == "https://s/iiif/b/match/4-9-9"  # counted in tokens: unique per hit
    # No text before the hit: no prefix at all rather than an empty one.
    assert context["target"][0]["selector"] == [{"type": "TextQuoteSelector", "exact": "verbun-"}]
    assert context["target"][1]["selector"] == [{"type": "TextQuoteSelector", "exact": "den", "suffix": " mit"}]


async def test_two_hits_in_one_printed_word(client: httpx.AsyncClient) -> None:
    """`est` and `dire` both fall in the printed word "c'est-à-dire": one item, two match annotations."""
    ours = await get(client, "/iiif/fish/search/2?q=est dire")
    item_ids = [item["id"] for item in ours["items"]]
    assert len(item_ids) == len(set(item_ids))
    contexts = ours["annotations"][0]["items"]
    assert len({c["id"] for c in contexts}) == len(contexts) == total_v2(ours) > len(item_ids)
    sources = {t["source"] for c in contexts for t in ([c["target"]] if isinstance(c["target"], dict) else c["target"])}
    assert sources == set(item_ids)


@pytest.mark.parametrize(("number", "next_", "prev"), [(0, 1, None), (2, None, 1), (9, None, 2)])
def test_paging_links(number: int, next_: int | None, prev: int | None) -> None:
    data = annotation_page(HitPage((), 25, number * 10, 10), ResultLinks("https://s/x", (("q", "a"),)), "https://s")
    assert data["id"] == f"https://s/x?q=a&page={number}"
    assert data.get("next") == (
        None if next_ is None else {"id": f"https://s/x?q=a&page={next_}", "type": "AnnotationPage"}
    )
    assert data.get("prev") == (
        None if prev is None else {"id": f"https://s/x?q=a&page={prev}", "type": "AnnotationPage"}
    )
    assert data["partOf"][0]["total"] == 25 and data["items"] == [] and "annotations" not in data


@pytest.mark.parametrize(
    ("total", "number", "paged"),
    [(0, 0, False), (1, 0, False), (10, 0, False), (11, 0, True), (11, 1, True), (3, 1, True)],
)
def test_a_result_is_paged_only_when_it_needs_more_than_one_page(total: int, number: int, paged: bool) -> None:
    """§4.2.1's simple list when every hit fits on the page; §4.2.2's properties otherwise,
    also on a page asked for past the end of a one-page result (it has a way back)."""
    data = annotation_page(HitPage((), total, number * 10, 10), ResultLinks("https://s/x", (("q", "a"),)), "https://s")
    assert ("partOf" in data) is paged and ("startIndex" in data) is paged
    assert ("prev" in data) is (number > 0)
    if paged:
        assert data["partOf"] == [
            {
                "id": "https://s/x?q=a",
                "type": "AnnotationCollection",
                "total": total,
                "first": {"id": "https://s/x?q=a&page=0", "type": "AnnotationPage"},
                "last": {"id": f"https://s/x?q=a&page={max(0, (total - 1) // 10)}", "type": "AnnotationPage"},
            }
        ]


def test_hit_text_is_escaped_for_the_readers_that_insert_it_as_html() -> None:
    """OCR text is untrusted; Clover and Triiiceratops put `body.value` and the selector text
    into the page as HTML (#12). Escaped, it shows as the same characters and runs nothing."""
    word = "<img src=x onerror=alert(1)>"
    matches = (Match(word, Box(1, 2, 3, 4), 0, 5, 5),)
    hit = Hit("b", 0, "https://e/c1", word, "AT&T </script>", " <b>", matches, first_token=5, last_token=5)
    data = annotation_page(HitPage((hit,), 1, 0, 10), ResultLinks("https://s/x", (("q", "img"),)), "https://s")
    (item,) = data["items"]
    assert item["body"] == {"type": "TextualBody", "value": "&lt;img src=x onerror=alert(1)&gt;", "format": "text/html"}
    (context,) = data["annotations"][0]["items"]
    assert context["target"]["selector"] == [
        {
            "type": "TextQuoteSelector",
            "prefix": "AT&amp;T &lt;/script&gt;",
            "exact": "&lt;img src=x onerror=alert(1)&gt;",
            "suffix": " &lt;b&gt;",
        }
    ]
    assert "<" not in json.dumps(data)


def test_term_page_renderer() -> None:
    data = term_page([Term("bird", 3)], "https://s/a?q=bi", "https://s/search/2", ignored=["user"])
    assert data == {
        "@context": SEARCH2_CONTEXT,
        "id": "https://s/a?q=bi",
        "type": "TermPage",
        "ignored": ["user"],
        "items": [
            {"value": "bird", "total": 3, "service": [{"id": "https://s/search/2?q=bird", "type": "SearchService2"}]}
        ],
    }
