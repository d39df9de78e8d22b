"""A HitPage or a list of Terms as IIIF Content Search 2.0 JSON (AnnotationPage, TermPage).

Pure dict building; knows nothing of Search 1.0. Each line of a hit is one
`highlighting` annotation in `items`, targeting `<canvas>#xywh=` in integer canvas
units; each hit is one `contextualizing` annotation in `annotations` whose
TextQuoteSelector gives the text around it (§4.3.1), with one target per line when the
hit spans several (§4.3.4). There is one match annotation per hit, so the `total`
of both collections is the number of hits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search_service.hits import Hit, HitPage, Term
from search_service.services import SEARCH2_CONTEXT, ManifestRef, ResultLinks, annotation_id, match_id, url_with


def _page_ref(url: str) -> dict[str, str]:
    return {"id": url, "type": "AnnotationPage"}


def annotation_page(
    page: HitPage,
    links: ResultLinks,
    base: str,
    *,
    manifests: Mapping[str, ManifestRef] | None = None,
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    """One page of hits as a Search 2.0 AnnotationPage (§4.2, §4.3).

    Always paged (§4.2.2): `partOf` embeds the AnnotationCollection with `total`
    (hits), `first` and `last`; `next`/`prev` when those pages exist; `startIndex` is
    the position of this page's first hit. With `manifests` (collection-wide search)
    each target names its manifest in `partOf` (§4.2.3).
    """
    body: dict[str, Any] = {
        "@context": SEARCH2_CONTEXT,
        "id": links.page(page.number),
        "type": "AnnotationPage",
    }
    if ignored:
        body["ignored"] = list(ignored)  # §4.2.4: MUST list parameters received but not implemented
    body["partOf"] = {
        "id": links.collection,
        "type": "AnnotationCollection",
        "total": page.total,
        "first": _page_ref(links.page(0)),
        "last": _page_ref(links.page(page.last)),
    }
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
        ids = [
            annotation_id(base, hit.book_id, hit.canvas_index, m.first_word, m.last_word, m.line) for m in hit.matches
        ]
        for anno_id, match in zip(ids, hit.matches, strict=True):
            if anno_id in listed:
                continue  # two hits in one printed word: one annotation, two match annotations (§4.3.3)
            listed.add(anno_id)
            fragment = f"{hit.canvas_id}#xywh={match.box.xywh}"
            items.append(
                {
                    "id": anno_id,
                    "type": "Annotation",
                    "motivation": "highlighting",
                    "body": {"type": "TextualBody", "value": match.text, "format": "text/plain"},
                    "target": fragment if ref is None else {"id": fragment, "partOf": _manifest(ref)},
                }
            )
        context.append(_context_annotation(base, hit, ids))
    body["items"] = items
    if context:
        # §4.3.3: the page of match annotations MAY embed its own collection, which MUST differ
        # from the top-level one; hash URIs keep both resolvable to this very document.
        body["annotations"] = [
            {
                "id": f"{links.page(page.number)}#matches",
                "type": "AnnotationPage",
                "partOf": {"id": f"{links.collection}#matches", "type": "AnnotationCollection", "total": page.total},
                "items": context,
            }
        ]
    return body


def _manifest(ref: ManifestRef) -> dict[str, Any]:
    # §4.2.3: id and type MUST, label SHOULD (a language map; the language of a book title is not known).
    return {"id": ref.id, "type": "Manifest", "label": {"none": [ref.label]}}


def _context_annotation(base: str, hit: Hit, ids: Sequence[str]) -> dict[str, Any]:
    """The `contextualizing` annotation of one hit: text before and after it (§4.3.1, §4.3.4)."""
    targets: list[dict[str, Any]] = []
    last = len(hit.matches) - 1
    for i, (anno_id, match) in enumerate(zip(ids, hit.matches, strict=True)):
        selector: dict[str, Any] = {"type": "TextQuoteSelector"}
        if i == 0 and hit.before:
            selector["prefix"] = hit.before
        selector["exact"] = match.text
        if i == last and hit.after:
            selector["suffix"] = hit.after
        targets.append({"type": "SpecificResource", "source": anno_id, "selector": [selector]})
    return {
        "id": match_id(base, hit.book_id, hit.canvas_index, hit.first_token, hit.last_token),
        "type": "Annotation",
        "motivation": "contextualizing",
        "target": targets[0] if len(targets) == 1 else targets,
    }


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
