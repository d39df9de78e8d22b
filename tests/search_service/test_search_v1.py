"""Search 1.0 responses: the shape of every 1.0 example in the spec, of Wellcome's real response,
and what Mirador 3/4 and UV 4 read (search_service/search/search_v1.py lists it; tests/browser drives the viewers)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocr.model import Box
from search_service.search.contexts import PRESENTATION2_CONTEXT, SEARCH1_CONTEXT
from search_service.search.hits import Hit, HitPage, Match, Term
from search_service.search.search_v1 import annotation_list, term_list
from search_service.search.urls import ManifestRef, ResultLinks
from tests.search_service.conftest import Corpus, same_shape

CONTEXT_WITH_HITS = [PRESENTATION2_CONTEXT, SEARCH1_CONTEXT]
#: Keys we add beyond the spec examples, each documented in docs/api.md: the Layer's @id
#: (§3.3.2 MAY) and first/last (§3.3.2 SHOULD), prev/next/startIndex (§3.3.2), hits and
#: their match (§3.4.2), within on the Layer (§3.3.2).
EXTRA = frozenset(
    {"@id", "within", "first", "last", "next", "prev", "startIndex", "hits", "match", "before", "after", "ignored"}
)
# UV 4: `resource.on.match(/(.*)#/)`; our fragments are integer xywh.
ON = re.compile(r"^(?P<canvas>[^#]+)#xywh=(\d+),(\d+),(\d+),(\d+)$")


def example(spec_examples: Path, name: str) -> Any:
    return json.loads((spec_examples / name).read_text(encoding="utf-8"))


def without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


async def get(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the spec's examples -----------------------------------------------------------------------


async def test_simple_list(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/stanford/search/1?q=Subjekts&motivation=painting")
    spec = example(spec_examples, "search1-response-simple-list.json")
    # §3.4: with hits the context is the array of both contexts (the example has no hits).
    assert ours["@context"] == CONTEXT_WITH_HITS
    assert same_shape(without(ours, "@context"), without(spec, "@context"), EXTRA) == []
    assert ours["@id"] == "http://testserver/iiif/stanford/search/1?q=Subjekts&motivation=painting&page=0"


async def test_paged_first_page(make_client: Callable[..., httpx.AsyncClient], spec_examples: Path) -> None:
    async with make_client(page_size=10) as client:
        ours = await get(client, "/iiif/fish/search/1?q=de")
    spec = example(spec_examples, "search1-response-paged-first-page.json")
    assert same_shape(without(ours, "@context"), without(spec, "@context"), EXTRA) == []
    within = ours["within"]
    assert within["@type"] == "sc:Layer"
    assert within["total"] > 10
    assert within["first"] == "http://testserver/iiif/fish/search/1?q=de&page=0"
    assert within["last"] == f"http://testserver/iiif/fish/search/1?q=de&page={(within['total'] - 1) // 10}"
    assert ours["next"] == "http://testserver/iiif/fish/search/1?q=de&page=1"
    assert "prev" not in ours
    assert ours["startIndex"] == 0
    assert len(ours["hits"]) == 10


async def test_ignored_parameters(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/fish/search/1?q=de&user=http%3A%2F%2Fexample.com%2Fusers%2Fazaroth42&date=x")
    spec = example(spec_examples, "search1-response-ignored-parameters.json")
    assert same_shape(ours, spec, EXTRA) == []
    assert ours["@context"] == CONTEXT_WITH_HITS
    assert ours["within"]["ignored"] == ["date", "user"]
    # §3.3.1: ignored parameters MAY be dropped from the ids; we drop them.
    assert "user" not in ours["@id"] and "user" not in ours["within"]["first"]


async def test_ignored_parameters_without_hits_still_use_the_array_context(client: httpx.AsyncClient) -> None:
    ours = await get(client, "/iiif/fish/search/1?q=zzqx&user=u")
    assert ours["@context"] == CONTEXT_WITH_HITS
    assert ours["within"]["ignored"] == ["user"]
    assert ours["resources"] == [] and "hits" not in ours


async def test_no_hits_plain_presentation_context(client: httpx.AsyncClient) -> None:
    ours = await get(client, "/iiif/fish/search/1?q=zzqx")
    assert ours["@context"] == PRESENTATION2_CONTEXT
    assert ours["within"]["total"] == 0
    assert ours["resources"] == []


async def test_hits_snippets(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/stanford/search/1?q=Oszilliation")
    spec = example(spec_examples, "search1-response-hits-snippets.json")
    assert same_shape(ours, spec, EXTRA) == []
    (hit,) = ours["hits"]
    assert hit["match"] == "Oszilliation"
    assert hit["before"].endswith("den mit der ")
    assert hit["after"].startswith(" zwischen Schriftlichkeit")


async def test_hits_highlighting_selectors(client: httpx.AsyncClient, spec_examples: Path) -> None:
    """§3.4.3 is for line-level annotations; ours are word-level, so hits give the same
    prefix/exact/suffix as before/match/after (§3.4.2), which Mirador reads, and no `selectors`."""
    ours = await get(client, "/iiif/stanford/search/1?q=Oszill*")
    spec = example(spec_examples, "search1-response-hits-highlighting-selectors.json")
    assert same_shape(ours, spec, EXTRA, optional=frozenset({"selectors"})) == []
    selector = spec["hits"][0]["selectors"][0]
    hit = ours["hits"][0]
    assert {"exact": hit["match"], "prefix": hit["before"], "suffix": hit["after"]}.keys() == selector.keys() - {
        "@type"
    }


async def test_multi_annotation_hit(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, '/iiif/stanford/search/1?q="Frisch drückt die innere"')
    spec = example(spec_examples, "search1-response-hits-multi-annotation.json")
    assert same_shape(ours, spec, EXTRA) == []
    (hit,) = ours["hits"]
    assert hit["match"] == "Frisch drückt die innere"
    assert hit["annotations"] == [r["@id"] for r in ours["resources"]]
    assert [r["resource"]["chars"] for r in ours["resources"]] == ["Frisch drückt", "die innere"]


async def test_collection_wide_hits_name_their_manifest(client: httpx.AsyncClient, spec_examples: Path) -> None:
    """§3.3.3: collection-wide, `on` is an object whose `within` names the manifest (#13)."""
    ours = await get(client, "/iiif/search/1?q=verbunden")
    spec = example(spec_examples, "search1-response-target-within-manifest.json")
    spec_annotation = spec["resources"][0]
    # The spec example writes `type` where Presentation 2.1 uses `@type` (erratum, examples/README.md).
    within = {"@type" if k == "type" else k: v for k, v in spec_annotation["on"]["within"].items()}
    spec_annotation = {**spec_annotation, "on": {**spec_annotation["on"], "within": within}}
    assert ours["resources"]
    for annotation in ours["resources"]:
        assert same_shape(annotation, spec_annotation, EXTRA) == []
        assert set(annotation["on"]) == {"@id", "within"}
        assert ON.match(annotation["on"]["@id"])
        within = annotation["on"]["within"]
        assert within == {
            "@id": "http://testserver/iiif/stanford/manifest",
            "@type": "sc:Manifest",
            "label": "Arrival, Processing and Departure Procedures/General Information",
        }
        assert "within" not in annotation  # only inside `on`


async def test_one_books_on_stays_a_string(client: httpx.AsyncClient) -> None:
    """UV and Mirador read `on` as a string: the §3.3.3 object is for collection-wide answers only."""
    ours = await get(client, "/iiif/stanford/search/1?q=verbunden")
    assert ours["resources"]
    for annotation in ours["resources"]:
        assert ON.match(annotation["on"]) and "within" not in annotation


async def test_autocomplete_term_list(client: httpx.AsyncClient, spec_examples: Path) -> None:
    ours = await get(client, "/iiif/fish/autocomplete/1?q=inc&motivation=painting&user=x")
    spec = example(spec_examples, "search1-autocomplete-termlist.json")
    assert same_shape(ours, spec, frozenset()) == []
    assert ours["ignored"] == ["user"]
    assert ours["@id"] == "http://testserver/iiif/fish/autocomplete/1?q=inc&motivation=painting"
    assert (
        ours["terms"][0]["url"]
        == f"http://testserver/iiif/fish/search/1?motivation=painting&q={ours['terms'][0]['match']}"
    )


async def test_autocomplete_term_list_with_labels(client: httpx.AsyncClient, spec_examples: Path) -> None:
    """Our terms are the words themselves, so they carry no `label` (§4.3 MAY)."""
    ours = await get(client, "/iiif/fish/autocomplete/1?q=inc")
    spec = example(spec_examples, "search1-autocomplete-termlist-labels.json")
    assert same_shape(ours, spec, frozenset({"@type"}), optional=frozenset({"label", "ignored"})) == []


async def test_autocomplete_urls_search_for_the_term(client: httpx.AsyncClient) -> None:
    terms = (await get(client, "/iiif/fish/autocomplete/1?q=inc"))["terms"]
    assert terms
    for term in terms[:5]:
        found = await get(client, term["url"].removeprefix("http://testserver"))
        assert found["within"]["total"] == term["count"]


# -- a real provider's response ----------------------------------------------------------------------


async def test_same_shape_as_wellcome(client: httpx.AsyncClient, test_data: Path) -> None:
    """Wellcome's live 1.0 response (what UV is tested against), field for field."""
    wellcome = json.loads((test_data / "iiif/search/v1/wellcome_b29338062_q-darwin_response.json").read_text())
    ours = await get(client, "/iiif/fish/search/1?q=roi")
    # Wellcome sends only the search context although it has hits; §3.4 asks for the array.
    assert ours["@context"] == CONTEXT_WITH_HITS
    assert same_shape(without(ours, "@context"), without(wellcome, "@context"), EXTRA) == []


# -- what the viewers read --------------------------------------------------------------------------


async def test_what_mirador_and_uv_read(client: httpx.AsyncClient, corpus: Corpus) -> None:
    ours = await get(client, "/iiif/fish/search/1?q=de la")
    canvases = {c["id"] for c in corpus.manifests["fish"]["items"]}
    ids = [r["@id"] for r in ours["resources"]]
    assert len(ids) == len(set(ids))
    for resource in ours["resources"]:
        assert resource["@type"] == "oa:Annotation"
        assert resource["motivation"] == "sc:painting"
        assert isinstance(resource["on"], str)
        match = ON.match(resource["on"])
        assert match and match["canvas"] in canvases
        assert resource["resource"]["@type"] == "cnt:ContentAsText" and resource["resource"]["chars"]
    referenced = [a for hit in ours["hits"] for a in hit["annotations"]]
    assert set(referenced) == set(ids)  # every annotation belongs to a hit, every hit's annotations are listed
    assert all(hit["@type"] == "search:Hit" for hit in ours["hits"])
    assert len(ours["hits"]) == min(100, ours["within"]["total"])


async def test_two_hits_in_one_printed_word_share_its_annotation(client: httpx.AsyncClient) -> None:
    """`est` and `dire` both fall in "c'est-à-dire": the annotation is listed once, both hits refer to it."""
    ours = await get(client, "/iiif/fish/search/1?q=est dire")
    ids = [r["@id"] for r in ours["resources"]]
    assert len(ids) == len(set(ids))
    referenced = [a for hit in ours["hits"] for a in hit["annotations"]]
    assert len(referenced) > len(ids) and set(referenced) == set(ids)
    assert ours["within"]["total"] == len(ours["hits"])


def _hit(text: str, before: str, after: str) -> Hit:
    match = Match(text, Box(1, 2, 3, 4), 0, 5, 5)
    return Hit("b", 0, "https://example.org/c1", text, before, after, (match,))


def test_snippets_are_html_escaped_and_chars_are_not() -> None:
    page = HitPage((_hit("<b>&", "x < y & ", " <script>"),), 1, 0, 10)
    data = annotation_list(page, ResultLinks("https://s/iiif/b/search/1", (("q", "b"),)), "https://s")
    hit = data["hits"][0]
    assert (hit["before"], hit["match"], hit["after"]) == ("x &lt; y &amp; ", "&lt;b&gt;&amp;", " &lt;script&gt;")
    assert data["resources"][0]["resource"]["chars"] == "<b>&"
    assert data["resources"][0]["on"] == "https://example.org/c1#xywh=1,2,3,4"
    assert data["resources"][0]["@id"] == "https://s/iiif/b/annotation/0-5-5-0"


def test_collection_renderer_names_manifests() -> None:
    page = HitPage((_hit("a", "", ""),), 1, 0, 10)
    refs = {"b": ManifestRef("https://s/iiif/b/manifest", "Book B")}
    data = annotation_list(page, ResultLinks("https://s/iiif/search/1", (("q", "a"),)), "https://s", manifests=refs)
    assert data["resources"][0]["on"] == {
        "@id": "https://example.org/c1#xywh=1,2,3,4",
        "within": {"@id": "https://s/iiif/b/manifest", "@type": "sc:Manifest", "label": "Book B"},
    }


@pytest.mark.parametrize(
    ("number", "total", "next_", "prev"), [(0, 25, 1, None), (1, 25, 2, 0), (2, 25, None, 1), (5, 25, None, 2)]
)
def test_paging_links(number: int, total: int, next_: int | None, prev: int | None) -> None:
    page = HitPage((), total, number * 10, 10)
    data = annotation_list(page, ResultLinks("https://s/x", (("q", "a b"),)), "https://s")
    assert data["@id"] == f"https://s/x?q=a+b&page={number}"
    assert data["within"]["last"] == "https://s/x?q=a+b&page=2"
    assert data.get("next") == (None if next_ is None else f"https://s/x?q=a+b&page={next_}")
    assert data.get("prev") == (None if prev is None else f"https://s/x?q=a+b&page={prev}")
    assert data["startIndex"] == number * 10


def test_term_list_renderer() -> None:
    data = term_list([Term("bird", 3)], "https://s/a?q=bi", "https://s/search/1", params=[("motivation", "painting")])
    assert data == {
        "@context": SEARCH1_CONTEXT,
        "@id": "https://s/a?q=bi",
        "@type": "search:TermList",
        "terms": [{"match": "bird", "url": "https://s/search/1?motivation=painting&q=bird", "count": 3}],
    }
