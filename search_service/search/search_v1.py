"""A HitPage or a list of Terms as IIIF Content Search 1.0 JSON (sc:AnnotationList, search:TermList).

Pure dict building; knows nothing of Search 2.0. Shaped as the spec says and as
Mirador 3/4 and UV 4 read it (found in their source code; tests/browser checks it in the viewers):
every annotation has an `@id`, one book's `on` is the plain string `<canvas>#xywh=x,y,w,h`
(UV cuts the canvas out of it with a regular expression; collection-wide, where no viewer
reads it, `on` is the §3.3.3 object naming the manifest in `within`), `hits` carry
`before`/`match`/`after` (Mirador renders them as HTML, so they are escaped), and
`next`/`prev` are plain URL strings (UV follows `next` until there is none).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from search_service.search.contexts import PRESENTATION2_CONTEXT, SEARCH1_CONTEXT
from search_service.search.hits import HitPage, Term
from search_service.search.urls import ManifestRef, ResultLinks, annotation_id, url_with


def _escape(text: str) -> str:
    # Mirador 3/4 put before/match/after into the page as HTML; OCR text can hold `<` and `&`.
    return html.escape(text, quote=False)


def annotation_list(
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
    """One page of hits as a Search 1.0 annotation list (§3.3, §3.4).

    One `oa:Annotation` (motivation `sc:painting`) per line of each hit, and one
    `search:Hit` per hit listing them. `within` is the sc:Layer of the whole result
    set (§3.3.2): `total` counts hits, `first`/`last` are URLs. `startIndex` is the
    position of this page's first hit. With `manifests` (collection-wide search)
    each `on` is an object naming the canvas's manifest in `within` (§3.3.3).
    `label` (the fuzzy retry's note, #14) becomes the list's `label`; each annotation
    of a near match (`Hit.near`) carries `near_label` as its `label`, one found through an
    alternative reading (`Hit.alternative`, #21) `alternative_label`, which Mirador 3
    and 4 show above the hit's text.
    """
    body: dict[str, Any] = {
        # §3.4: with `hits` or `ignored` the context MUST be the array, Presentation first.
        "@context": [PRESENTATION2_CONTEXT, SEARCH1_CONTEXT] if page.hits or ignored else PRESENTATION2_CONTEXT,
        "@id": links.page(page.number),
        "@type": "sc:AnnotationList",
    }
    if label:
        body["label"] = label  # Presentation 2.1 allows a label on any resource
    within: dict[str, Any] = {"@id": links.collection, "@type": "sc:Layer"}
    if page.total_exact:
        within["total"] = page.total
        within["first"] = links.page(0)
        within["last"] = links.page(page.last)
    else:
        # A collection-wide total that is only a lower bound (#20): no number rather than a
        # wrong one, and no last page; `next` still leads on (docs/api.md#totals).
        within["first"] = links.page(0)
    if ignored:
        within["ignored"] = list(ignored)  # §3.4.1: the Layer MUST be present and list them
    body["within"] = within
    if page.next is not None:
        body["next"] = links.page(page.next)  # §3.3.2: MUST, a plain URL
    if page.prev is not None:
        body["prev"] = links.page(page.prev)
    body["startIndex"] = page.start
    resources: list[dict[str, Any]] = []
    hits: list[dict[str, Any]] = []
    listed: set[str] = set()
    for hit in page.hits:
        ids: list[str] = []
        for match in hit.matches:
            anno_id = annotation_id(base, hit.book_id, hit.canvas_index, match.first_word, match.last_word, match.line)
            ids.append(anno_id)
            if anno_id in listed:
                continue  # two hits in one printed word ("c'est-à-dire"): both refer to one annotation
            listed.add(anno_id)
            target: str | dict[str, Any] = f"{hit.canvas_id}#xywh={match.box.xywh}"
            if manifests is not None:
                # §3.3.3: collection-wide, `on` names the manifest its canvas is within. Only
                # here: UV and Mirador read one book's `on` as a string (module docstring).
                ref = manifests[hit.book_id]
                target = {"@id": target, "within": {"@id": ref.id, "@type": "sc:Manifest", "label": ref.label}}
            annotation: dict[str, Any] = {
                "@id": anno_id,
                "@type": "oa:Annotation",
                "motivation": "sc:painting",
                "resource": {"@type": "cnt:ContentAsText", "chars": match.text},
                "on": target,
            }
            if hit.near or hit.alternative:
                annotation["label"] = near_label if hit.near else alternative_label
            resources.append(annotation)
        # §3.4.2 / §3.4.4: one hit per match, listing every annotation (line) it spans.
        hits.append(
            {
                "@type": "search:Hit",
                "annotations": ids,
                "match": _escape(hit.text),
                "before": _escape(hit.before),
                "after": _escape(hit.after),
            }
        )
    body["resources"] = resources
    if hits:
        body["hits"] = hits
    return body


def term_list(
    terms: Sequence[Term],
    request_id: str,
    search_service: str,
    *,
    params: Sequence[tuple[str, str]] = (),
    ignored: Sequence[str] = (),
) -> dict[str, Any]:
    """Autocomplete terms as a Search 1.0 search:TermList (§4.3).

    Each term has `match`, `url` (the search for it, with the request's other
    parameters such as `motivation`) and `count`.
    """
    body: dict[str, Any] = {
        "@context": SEARCH1_CONTEXT,
        "@id": request_id,
        "@type": "search:TermList",
    }
    if ignored:
        body["ignored"] = list(ignored)  # §4.3: MUST list parameters not processed
    body["terms"] = [
        {"match": term.text, "url": url_with(search_service, (*params, ("q", term.text))), "count": term.count}
        for term in terms
    ]
    return body
