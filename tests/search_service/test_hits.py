"""hits: what a hit is (one pure rule), counting that agrees with drawing, paging, boxes, autocomplete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from indexer.coords import to_canvas
from indexer.index.counting import Deadline
from indexer.index.records import PageRecord
from indexer.index.snapshot import Snapshot
from ocr.hocr import parse_pages
from search_service.search import hits as hits_module
from search_service.search.books import search_books
from search_service.search.hits import MAX_PREFIX_TERMS, Hit, expand_prefix, plan_query, rank_collection, search, terms
from search_service.search.query import parse_query
from tests.conftest import read_test_file
from tests.search_service.conftest import STANFORD_HOCR, Corpus

# -- hits on real pages ------------------------------------------------------------------------


def _word(record: PageRecord, text: str) -> int:
    return next(i for i, w in enumerate(record.words) if w[0] == text)


def test_hyphenated_word_is_one_hit_with_a_box_per_line(snapshot: Snapshot) -> None:
    page = search(snapshot, parse_query("Verbunden"), "stanford", 0, 100)
    assert page.total == 1
    (hit,) = page.hits
    assert (hit.book_id, hit.canvas_index) == ("stanford", 0)
    assert hit.canvas_id == "https://purl.stanford.edu/fg165hz3589/iiif/canvas/fg165hz3589_1"
    assert hit.text == "verbunden"
    assert [m.text for m in hit.matches] == ["verbun\u00ad", "den"]
    assert [m.line for m in hit.matches] == [2, 3]
    assert hit.before.endswith("eng ")
    assert hit.after.startswith(" mit der Oszilliation")
    # The boxes are the hOCR word boxes scaled to the 2530x3279 canvas (image 1662x2618 px).
    ocr_page = parse_pages(read_test_file(Path("ocr/hocr") / STANFORD_HOCR[0]))[0]
    words = ocr_page.words()
    first = next(i for i, w in enumerate(words) if w.text == "verbun\u00ad")
    for match, word in zip(hit.matches, words[first : first + 2], strict=True):
        assert match.box == to_canvas(word.box, ocr_page, 2530, 3279)


def test_phrase_across_a_line_break_is_one_hit_with_a_box_per_line(snapshot: Snapshot, corpus: Corpus) -> None:
    record = corpus.records["stanford"][0]
    page = search(snapshot, parse_query('"Frisch drückt die innere"'), "stanford", 0, 100)
    assert page.total == 1
    (hit,) = page.hits
    assert hit.text == "Frisch drückt die innere"
    assert [m.text for m in hit.matches] == ["Frisch drückt", "die innere"]
    first, second = hit.matches
    assert first.line + 1 == second.line
    # One box per line: the union of that line's words, never of both lines.
    frisch, drueckt = record.word(first.first_word), record.word(first.last_word)
    assert (frisch.text, drueckt.text) == ("Frisch", "drückt")
    assert first.box.x == frisch.x and first.box.right == drueckt.x + drueckt.w
    assert second.box.y >= first.box.y + first.box.h // 2


def test_phrase_through_a_hyphenated_word(snapshot: Snapshot) -> None:
    (hit,) = search(snapshot, parse_query('"eng verbunden mit"'), "stanford", 0, 100).hits
    assert hit.text == "eng verbunden mit"
    assert [m.text for m in hit.matches] == ["eng verbun\u00ad", "den mit"]


def test_several_words_highlight_each_and_join_neighbours(snapshot: Snapshot) -> None:
    page = search(snapshot, parse_query("drückt die"), "stanford", 0, 1000)
    texts = [hit.text.casefold() for hit in page.hits]
    assert "drückt die" in texts  # adjacent in the query and on the page: one hit
    assert texts.count("die") >= 3  # every other occurrence is highlighted on its own
    # Pages must hold every word: no hit comes from a page without "drückt".
    assert {hit.canvas_index for hit in page.hits} == {0}


def test_words_that_are_not_in_the_index_give_nothing(snapshot: Snapshot) -> None:
    assert search(snapshot, parse_query("zzqx"), None, 0, 10).total == 0
    assert search(snapshot, parse_query("verbunden zzqx"), None, 0, 10).total == 0
    assert search(snapshot, parse_query("("), None, 0, 10).hits == ()


def test_accents_and_case_fold(snapshot: Snapshot) -> None:
    folded = search(snapshot, parse_query("perou"), "fish", 0, 1000)
    accented = search(snapshot, parse_query("PÉROU"), "fish", 0, 1000)
    assert folded.total == accented.total > 10
    assert {h.text.rstrip(",.;") for h in folded.hits} >= {"Pérou", "PÉROU"}


def _order(hits: tuple[Hit, ...]) -> list[tuple[str, int, int]]:
    return [(h.book_id, h.canvas_index, h.matches[0].first_word) for h in hits]


def test_across_books_best_book_first_each_in_reading_order(snapshot: Snapshot) -> None:
    page = search(snapshot, parse_query("e*"), None, 0, 100_000)
    order = _order(page.hits)
    assert len(set(order)) == len(order) == page.total
    # Each book's hits together, in reading order, the books in the ranking's order (#13).
    books = list(dict.fromkeys(h.book_id for h in page.hits))
    assert set(books) == {"fish", "folder", "stanford"}
    assert order == sorted(order, key=lambda key: (books.index(key[0]), key[1], key[2]))
    plan = plan_query(snapshot, parse_query("e*"))
    assert plan is not None
    assert books == [book.book_id for book in rank_collection(snapshot, plan, Deadline(None)).books()]


def test_paging_visits_every_hit_once(snapshot: Snapshot) -> None:
    query = parse_query("de la")
    whole = search(snapshot, query, "fish", 0, 100_000)
    assert whole.total == len(whole.hits) > 50
    walked: list[Hit] = []
    start = 0
    while True:
        page = search(snapshot, query, "fish", start, 37)
        assert page.total == whole.total
        assert page.start == start
        walked.extend(page.hits)
        if page.next is None:
            break
        start = page.next * 37
    assert walked == list(whole.hits)
    assert search(snapshot, query, "fish", whole.total + 100, 37).hits == ()


def test_boxes_are_never_empty_and_stay_on_the_canvas(snapshot: Snapshot) -> None:
    page = search(snapshot, parse_query("e*"), None, 0, 100_000)
    assert page.total > 1000
    sizes: dict[tuple[str, int], tuple[int, int]] = {}
    for hit in page.hits:
        key = (hit.book_id, hit.canvas_index)
        if key not in sizes:
            record = snapshot.page_of(*key)
            assert record is not None
            sizes[key] = (record.width, record.height)
        width, height = sizes[key]
        for match in hit.matches:
            box = match.box
            assert box.w >= 1 and box.h >= 1
            assert box.x >= 0 and box.x + box.w <= width
            assert box.y >= 0 and box.y + box.h <= height


def test_prefix_expansion_is_bounded_to_the_most_frequent(snapshot: Snapshot) -> None:
    every = snapshot.expand_prefix("d", 100_000)
    assert len(expand_prefix(snapshot, "d")) == min(len(every), MAX_PREFIX_TERMS)
    counts = snapshot.term_counts(every, None)
    top = expand_prefix(snapshot, "d", limit=3)
    assert sorted(counts[t] for t in top) == sorted(counts.values())[-3:]
    assert expand_prefix(snapshot, "zzqx") == []


# -- autocomplete ---------------------------------------------------------------------------


def test_terms_start_with_the_prefix_in_alphabetical_order(snapshot: Snapshot) -> None:
    found = terms(snapshot, "Inc", "fish", 1, 50)
    assert found
    assert [t.text for t in found] == sorted(t.text for t in found)
    assert all(t.text.startswith("inc") for t in found)


def test_terms_count_like_search(snapshot: Snapshot) -> None:
    for term in terms(snapshot, "de", "stanford", 1, 20):
        assert term.count == search(snapshot, parse_query(term.text), "stanford", 0, 1).total


def test_terms_min_and_limit(snapshot: Snapshot) -> None:
    every = terms(snapshot, "d", None, 1, 10_000)
    frequent = terms(snapshot, "d", None, 5, 10_000)
    assert frequent and all(t.count >= 5 for t in frequent)
    assert {t.text for t in frequent} == {t.text for t in every if t.count >= 5}
    top = terms(snapshot, "d", None, 1, 4)
    assert len(top) == 4
    # The limit keeps the most frequent, then sorts them alphabetically.
    assert sorted(t.count for t in top) == sorted(t.count for t in every)[-4:]


def test_terms_of_a_string_with_spaces_match_nothing(snapshot: Snapshot) -> None:
    # Search 1.0 §4.2: "green bir" is one string, not two terms.
    assert terms(snapshot, "de la", None, 1, 20) == []
    assert terms(snapshot, "", None, 1, 20) == []


def test_a_new_snapshots_columns_are_not_counted_in_the_querys_time_limit(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The columns a collection search reads are built once per snapshot (1.7 s at 300,000
    # pages): the index's cost after a commit, not the query's. Counted in the time limit,
    # the first search of a common word after a commit was refused as too costly.
    def slow(build: Any) -> Any:
        built: list[Any] = []

        def slowly() -> Any:
            if not built:  # built once per snapshot, then kept
                time.sleep(0.15)
                built.append(build())
            return built[0]

        return slowly

    for column in ("book_ordinals", "pages_by_book", "rank"):
        monkeypatch.setattr(snapshot, column, slow(getattr(snapshot, column)))
    monkeypatch.setattr(hits_module, "ONE_SLOT_EVERY_PAGE_BELOW", 0)  # the book counts, as for a common word
    page = search(snapshot, parse_query("the"), None, 0, 10, time_limit=0.2)
    assert page.hits
    books = search_books(snapshot, parse_query("the"), 0, 3, 1, time_limit=0.2)
    assert books.books
