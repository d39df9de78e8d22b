"""A HitPage or a list of Terms as IIIF Content Search 2.0 JSON (AnnotationPage, TermPage).

Pure dict building; knows nothing of Search 1.0. One hit model that every 2.0 reader
gets the same hits from (#12; what each reader does is in docs/viewers.md and docs/api.md):

- `items`: each line of a hit is one `highlighting` annotation targeting
  `<canvas>#xywh=` in integer canvas units (Clover and Triiiceratops list these);
- `annotations`: each hit is one `contextualizing` annotation whose TextQuoteSelector
  gives the text around it (§4.3.1), with one target per line when the hit spans
  several (§4.3.4), each naming its line's annotation in `source` (Tamerlane reads
  these, resolving `source` against `items`); one per hit, so it counts hits;
- paging: a result that fits on one page is the spec's simple list (§4.2.1: no
  `partOf`); a paged one carries `partOf` as a one-element array, the same JSON-LD
  statement as §4.2.2's object, because Clover's parser (`@iiif/parser`) calls
  `partOf.map` and drops a response whose `partOf` is an object; `next`/`prev` as
  the spec writes them.

Every reader of these puts `body.value` and the selector text into its page as HTML
(Clover and Triiiceratops without sanitising), and OCR text is untrusted, so both are
HTML-escaped and the body says `text/html`, which is what the value then is.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from search_service.search.contexts import SEARCH2_CONTEXT
from search_service.search.hits import Hit, HitPage, Term
from search_service.search.urls import ManifestRef, ResultLinks, annotation_id, match_id, url_with


def _page_ref(url: str) -> dict[str, str]:
    return {"id": url, "type": "AnnotationPage"}


def annotation_page(
    page: HitPage,
    links: ResultLinks,
    base: str,
    *,
    manifests: Mapping[str, ManifestRef] | None = None,
    ignored: Sequence[str] = (),
    label: str | None = None,
    near_label: str = "near match",
    alternative_label: str = "alternative reading",
) -> dict[str, Any]:
    """One page of hits as a Search 2.0 AnnotationPage (§4.2, §4.3).

    Paged (§4.2.2) when the result has more than one page or a later page is asked
    for: `partOf` embeds the AnnotationCollection with `total` (hits), `first` and
    `last`; `next`/`prev` when those pages exist; `startIndex` is the position of this
    page's first hit. Otherwise the simple list of §4.2.1. With `manifests`
    (collection-wide search) each target names its manifest in `partOf` (§4.2.3).
    """
    body: dict[str, Any] = {
        "@context": SEARCH2_CONTEXT,
        "id": links.page(page.number),
        "type": "AnnotationPage",
    }
    if label:
        body["label"] = {"en": [label]}
    if ignored:
        body["ignored"] = list(ignored)  # §4.2.4: MUST list parameters received but not implemented
    if is_paged(page):
        # A one-element array: `partOf` is a set in JSON-LD, and Clover 3.x drops an object (see above).
        collection: dict[str, Any] = {"id": links.collection, "type": "AnnotationCollection"}
        if page.total_exact:
            collection["total"] = page.total
        collection["first"] = _page_ref(links.page(0))
        if page.total_exact:
            collection["last"] = _page_ref(links.page(page.last))
        # Else a collection-wide total that is only a lower bound (#20): `total` and `last` are
        # MAY (§4.2.2), and left out rather than wrong; `next` still leads on (docs/api.md#totals).
        body["partOf"] = [collection]
        if page.next is not None:
            body["next"] = _page_ref(links.page(page.next))
        if page.prev is not None:
            body["prev"] = _page_ref(links.page(page.prev))
        body["startIndex"] = page.start
    items: list[dict[str, Any]] = []
    context: list[dict[str, Any]] = []
    listed: set[str] = set()
    for hit in page.hits:
        ref = manifests[hit.book_id] if manifests is not None else None
        label = near_label if hit.near else alternative_label if hit.alternative else None
        ids = [
            annotation_id(base, hit.book_id, hit.canvas_index, m.first_word, m.last_word, m.line) for m in hit.matches
        ]
        for anno_id, match in zip(ids, hit.matches, strict=True):
            if anno_id in listed:
                continue  # two hits in one printed word: one annotation, two match annotations (§4.3.3)
            listed.add(anno_id)
            fragment = f"{hit.canvas_id}#xywh={match.box.xywh}"
            item: dict[str, Any] = {
                "id": anno_id,
                "type": "Annotation",
                "motivation": "highlighting",
                "body": {"type": "TextualBody", "value": _escape(match.text), "format": "text/html"},
                "target": fragment if ref is None else {"id": fragment, "partOf": _manifest(ref)},
            }
            if label:
                item["label"] = {"en": [label]}
            items.append(item)
        context.append(_context_annotation(base, hit, ids, label))
    body["items"] = items
    if context:
        # §4.3: the match annotations in a page of their own; its id is a hash URI of this page.
        body["annotations"] = [{"id": f"{links.page(page.number)}#matches", "type": "AnnotationPage", "items": context}]
    return body


def is_paged(page: HitPage) -> bool:
    """Whether this response is one page of several (§4.2.2), not the simple list of §4.2.1."""
    return page.last > 0 or page.number > 0


def _escape(text: str) -> str:
    # OCR text is untrusted and every 2.0 reader inserts it as HTML (module docstring).
    return html.escape(text, quote=False)


def _manifest(ref: ManifestRef) -> dict[str, Any]:
    # §4.2.3: id and type MUST, label SHOULD (a language map; the language of a book title is not known).
    return {"id": ref.id, "type": "Manifest", "label": {"none": [ref.label]}}


def _context_annotation(base: str, hit: Hit, ids: Sequence[str], label: str | None = None) -> dict[str, Any]:
    """The `contextualizing` annotation of one hit: text before and after it (§4.3.1, §4.3.4)."""
    targets: list[dict[str, Any]] = []
    last = len(hit.matches) - 1
    for i, (anno_id, match) in enumerate(zip(ids, hit.matches, strict=True)):
        selector: dict[str, Any] = {"type": "TextQuoteSelector"}
        if i == 0 and hit.before:
            selector["prefix"] = _escape(hit.before)
        selector["exact"] = _escape(match.text)
        if i == last and hit.after:
            selector["suffix"] = _escape(hit.after)
        targets.append({"type": "SpecificResource", "source": anno_id, "selector": [selector]})
    annotation: dict[str, Any] = {
        "id": match_id(base, hit.book_id, hit.canvas_index, hit.first_token, hit.last_token),
        "type": "Annotation",
        "motivation": "contextualizing",
        "target": targets[0] if len(targets) == 1 else targets,
    }
    if label:
        annotation["label"] = {"en": [label]}
    return annotation


def term_page(
    terms: Sequence[Term],
    request_id: str,
    search_service: str,
    *,
    params: Sequence[tuple[str, str]] = (),
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    """Autocomplete terms as a Search 2.0 TermPage (§5.2, §5.3).

    Each Term has `value`, `total` and, in `service`, the full search URL for it
    (with the request's other parameters such as `motivation`).
    """
    body: dict[str, Any] = {"@context": SEARCH2_CONTEXT, "id": request_id, "type": "TermPage"}
    if ignored:
        body["ignored"] = list(ignored)
    body["items"] = [
        {
            "value": term.text,
            "total": term.count,
            "service": [{"id": url_with(search_service, (*params, ("q", term.text))), "type": "SearchService2"}],
        }
        for term in terms
    ]
    return body
