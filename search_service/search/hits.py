"""Run a parsed query against an index snapshot: hits with boxes, paged; and autocomplete terms.

Knows no spec version and no URL: `search_v1.py` and `search_v2.py` render what this
returns. A search is three steps: plan the query (each slot's index terms), count
the hits on every matching page (indexer/index/counting.py, which also holds the
rule of what a hit is, `hit_spans`), and draw the hits of just the pages the
requested result page covers, from their stored tokens and words, with the same
rule. So `total` and the hits listed always agree.

>>> import tempfile
>>> from pathlib import Path
>>> from indexer.index.records import BookRecord, PageRecord
>>> from indexer.index.store import Store
>>> from search_service.search.query import parse_query
>>> store = Store(Path(tempfile.mkdtemp()))
>>> words = [("The", 0, 0, 20, 10, 0), ("bird", 25, 0, 30, 10, 0), ("birds", 0, 20, 35, 10, 1)]
>>> page = PageRecord.build("b1", 0, "https://example.org/c0", "p. 1", 100, 50, words,
...                         ["the", "bird", "birds"], [(0, 0), (1, 1), (2, 2)])
>>> store.replace_book(BookRecord("b1", "A book", "https://example.org/b1", 3, "b1.json", manifest={}), [page])
>>> found = search(store.snapshot(), parse_query("bird*"), "b1", 0, 100)
>>> found.total, [(hit.text, hit.matches[0].box.xywh) for hit in found.hits]
(2, [('bird', '25,0,30,10'), ('birds', '0,20,35,10')])
>>> terms(store.snapshot(), "bi", None, 1, 20)
[Term(text='bird', count=1), Term(text='birds', count=1)]
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from indexer.index.counting import Deadline, Plan, UnitPlan, count_pages, hit_spans, record_positions
from indexer.index.ranking import CorpusStats, Ranked, book_lengths, rank_books
from indexer.index.records import PageRecord
from indexer.index.snapshot import Snapshot
from indexer.index.top_books import counts_are_hits, top_books
from ocr.dehyphenate import HYPHENS
from ocr.model import Box
from ocr.text import tokens as text_tokens
from search_service.search.paging import Paged
from search_service.search.query import Query, Slot

#: A prefix (`a*`) stands for at most this many index terms: the most frequent ones of
#: the first PREFIX_SCAN terms that start with it, so `a*` in a huge index answers fast.
MAX_PREFIX_TERMS = 200
PREFIX_SCAN = 2000
#: A fuzzy word (`word~`) stands for at most this many index terms: the closest, then the
#: most frequent in the whole index (#14). Like a prefix's bound, it keeps a word's count fast.
MAX_NEAR_TERMS = 64
#: Autocomplete looks at this many candidate terms (the most frequent in the whole index).
AUTOCOMPLETE_CANDIDATES = 200
#: About this many characters of context on each side of a hit (whole words).
CONTEXT_CHARS = 60
#: The line-end hyphen marks that ocr/dehyphenate.py joins on, dropped when a split word is shown whole.
_HYPHENS = "".join(HYPHENS)


@dataclass(frozen=True, slots=True)
class Match:
    """The part of a hit on one printed line: one annotation in a response.

    `first_word`..`last_word` index the page's stored words (inclusive); `box` is in
    canvas units, never zero-sized.
    """

    text: str
    box: Box
    line: int
    first_word: int
    last_word: int


@dataclass(frozen=True, slots=True)
class Hit:
    """One match of the query on a canvas, with one `Match` per line it covers.

    `near` says that some word of it was found only as a near spelling of a fuzzy word
    (`word~`): not the word as typed, nor a word the query names otherwise. `alternative`
    says that some word of it was found only through an alternative reading the OCR offered
    for the printed word (#21); its box is the printed word's.

    `text` is the matched text as printed, with a word hyphenated across a line end
    shown whole; `before`/`after` are the text around it on the same page (with the
    separating space), empty at the page's edges. `first_token`..`last_token` is the
    span of index tokens it covers: hits never share a token, but two hits can share a
    printed word (`est` and `dire` in "c'est-à-dire"), so `Match`es can repeat.
    """

    book_id: str
    canvas_index: int
    canvas_id: str
    text: str
    before: str
    after: str
    matches: tuple[Match, ...]
    first_token: int = 0
    last_token: int = 0
    near: bool = False
    alternative: bool = False


@dataclass(frozen=True, slots=True)
class HitPage(Paged):
    """One page of results: `hits[0]` is hit number `start` (0-based) of `total`.

    `total_exact` is False when `total` is a lower bound: a collection-wide search that
    stopped counting once its page was settled (#20); one book's search is always exact.
    """

    hits: tuple[Hit, ...]
    total: int
    start: int
    size: int
    total_exact: bool = True

    @property
    def items(self) -> int:
        return self.total


@dataclass(frozen=True, slots=True)
class Term:
    """An index term and how often it occurs in the searched scope."""

    text: str
    count: int


# -- resolving a query against the index -------------------------------------------------


def expand_prefix(snapshot: Snapshot, prefix: str, limit: int = MAX_PREFIX_TERMS) -> list[str]:
    """Index terms starting with `prefix`: all of them, or the `limit` most frequent.

    Bounded twice so a one-letter prefix in a huge index stays fast: at most
    PREFIX_SCAN terms are read (in term order), and of those the `limit` that occur
    most often in the whole index are kept.
    """
    found = snapshot.expand_prefix(prefix, PREFIX_SCAN)
    if len(found) <= limit:
        return found
    counts = snapshot.term_counts(found, None)
    return sorted(found, key=lambda term: (-counts.get(term, 0), term))[:limit]


def expand_near(snapshot: Snapshot, word: str, distance: int, limit: int = MAX_NEAR_TERMS) -> list[str]:
    """Index terms within `distance` edits of `word` (the word itself included when indexed).

    Bounded like a prefix: of more than `limit`, the closest are kept, and among those at
    the same distance the most frequent in the whole index.
    """
    found = snapshot.near_terms(word, distance)
    if len(found) <= limit:
        return [term for term, _ in found]
    counts = snapshot.term_counts([term for term, _ in found], None)
    ranked = sorted(found, key=lambda item: (item[1], -counts.get(item[0], 0), item[0]))
    return [term for term, _ in ranked[:limit]]


def plan_query(snapshot: Snapshot, query: Query) -> Plan | None:
    """The index terms each slot of each unit stands for; None when some slot has none."""
    plan: list[UnitPlan] = []
    for unit in query.units:
        slots: list[frozenset[str]] = []
        for slot in unit.slots:
            terms = _slot_terms(snapshot, slot)
            if not terms:
                return None  # every unit is required, so nothing can match
            slots.append(terms)
        plan.append(tuple(slots))
    return tuple(plan) or None


def _slot_terms(snapshot: Snapshot, slot: Slot) -> frozenset[str]:
    if slot.prefix:
        return frozenset(expand_prefix(snapshot, slot.text))
    if slot.fuzzy:
        return frozenset(expand_near(snapshot, slot.text, slot.distance))
    return frozenset((slot.text,)) if snapshot.has_term(slot.text) else frozenset()


# -- search ---------------------------------------------------------------------------------


def search(
    snapshot: Snapshot,
    query: Query,
    book_id: str | None,
    start: int,
    page_size: int,
    time_limit: float | None = None,
    corpus: CorpusStats | None = None,
    exact_total: bool = False,
) -> HitPage:
    """Hits `start`..`start + page_size` of `query` in one book (or every book when None).

    In one book, hits come in reading order: canvas order, then position on the page;
    with fuzzy words (`word~`), the pages that hold the query as typed come first, then
    the pages found only through near spellings, each group in reading order (#14).
    Over every book, the best books come first (indexer/index/ranking.py), each book's
    hits in reading order (`corpus`: the whole collection's stats, when this index is
    one shard of it). Hits of near spellings are marked `near`. Only the pages
    holding the requested hits are loaded from the store. Raises QueryTooCostly when
    counting takes more than `time_limit` seconds.

    Over every book, only the books up to the requested hits are counted page by page
    (indexer/index/top_books.py); `total` may then be a lower bound (`total_exact`
    False). `exact_total` counts every page of every book instead, for an exact total.
    """
    if book_id is None:
        warm_collection_columns(snapshot)
    deadline = Deadline(time_limit)
    plan = plan_query(snapshot, query)
    if plan is None:
        return HitPage((), 0, start, page_size)
    near = near_only_terms(snapshot, query, plan)

    exact = True
    if book_id is None:
        ranked = rank_collection(snapshot, plan, deadline, corpus, None if exact_total else (0, start + page_size))
        docnums, counts = ranked.docnums, ranked.counts
        total, exact = ranked.total, ranked.total_exact
    else:
        # The next page of the same search, or another reader's same search, reuses the
        # matched pages (16 bytes a page, in the snapshot's byte budget).
        docnums, counts = snapshot.cached(
            ("search", plan, book_id),
            lambda: count_pages(snapshot, plan, book_id, deadline),
            lambda result: 16 * len(result[0]) + _plan_bytes(plan),
        )
        if near:
            docnums, counts = snapshot.cached(
                ("as typed first", plan, book_id),
                lambda: _as_typed_first(snapshot, query, book_id, docnums, counts, deadline),
                lambda result: 16 * len(result[0]) + _plan_bytes(plan),
            )
        total = sum(counts)
    hits = draw_hits(snapshot, plan, near, docnums, counts, start, start + page_size)
    return HitPage(tuple(hits), total, start, page_size, exact)


def draw_hits(
    snapshot: Snapshot,
    plan: Plan,
    near: frozenset[str],
    docnums: array[int],
    counts: array[int],
    start: int,
    end: int,
) -> list[Hit]:
    """Hits `start..end` of matched pages in their order (`docnums`, with their hit `counts`), loading only their pages."""
    hits: list[Hit] = []
    seen = 0
    for docnum, count in zip(docnums, counts, strict=True):
        if seen >= end:
            break
        if count and seen + count > start:
            page_hits = page_hits_of(snapshot.page(docnum), plan, near)
            hits.extend(page_hits[max(0, start - seen) : end - seen])
        seen += count
    return hits


def warm_collection_columns(snapshot: Snapshot) -> None:
    """Build the per-snapshot columns every collection search reads, before its time limit starts.

    They are paid once per snapshot (each commit, in each server worker: 1.7 s at 300,000
    pages) and are the index's cost, not the query's. Inside the query's time limit, the
    first search of a common word after a commit on a big index came near it or past it
    (1.96 s of the 2 s at 303,278 pages), and was refused as too costly: a 400 blaming the
    reader's query. Cached: later calls on the same snapshot cost microseconds. An empty
    index has none.
    """
    if snapshot.searcher is None:
        return
    snapshot.book_ordinals()
    snapshot.pages_by_book()
    snapshot.rank()
    book_lengths(snapshot)


#: Below this many pages holding the query's terms (summed over its terms), counting every page
#: is cheaper than ranking from book counts: measured at 300,000 pages (docs/benchmarks.md,
#: "Library scale"), counting costs ~0.27 us a posting, and the book-count path 10 to 35 ms
#: whatever the word (each shown book is counted apart, per segment), so it pays only for words
#: on a third of the pages and more (`de`: 12 ms against 77 ms), and loses on the rest.
#: This is the bar for a phrase, whose book counts only bound its hits.
EVERY_PAGE_BELOW = 100_000

#: The same bar for one slot (a word, a prefix, a fuzzy word), whose book counts are its hits
#: exactly: from a sweep of words on 600 to 94,000 pages at 100,000 pages (docs/benchmarks.md,
#: "Library scale"), the book counts cost the same as counting every page from ~5,000 pages
#: holding the word, less from ~20,000 (2 segments: 14 ms against 21 at 37,000 pages; 21
#: segments: 19 against 23), and more below 1,000 (a rare word is spread over many books,
#: each shown book counted apart: 33 ms against 22).
ONE_SLOT_EVERY_PAGE_BELOW = 20_000


#: Whether queries of several units (words not in one phrase: every unit required on a page) go
#: through the book counts too. Measured at 300,000 pages they did not pay: a book's counts only
#: bound such a query's hits, so many books are counted one by one (`roi espagnols` 1.23 times,
#: the mix's two-unit queries 1.2 times the CPU of counting every page).
SEVERAL_UNITS_BY_BOOK_COUNTS = False


def _book_counts_pay(snapshot: Snapshot, plan: Plan) -> bool:
    """Whether ranking from book counts is expected to cost less than counting every page (measured)."""
    if len(plan) > 1 and not SEVERAL_UNITS_BY_BOOK_COUNTS:
        return False
    # One slot of one term, or of several where no two share a position, is ranked exactly from its
    # book counts; a prefix or fuzzy word whose terms may share positions (alternative readings,
    # #21) only bounds its books' hits, as a phrase does, and takes the phrases' bar.
    bar = ONE_SLOT_EVERY_PAGE_BELOW if counts_are_hits(snapshot, plan) else EVERY_PAGE_BELOW
    return snapshot.pages_holding(plan_terms(plan), bar) >= bar


def plan_terms(plan: Plan) -> list[str]:
    """Every index term of a plan, each once."""
    return sorted({term for unit in plan for slot in unit for term in slot})


def rank_collection(
    snapshot: Snapshot,
    plan: Plan,
    deadline: Deadline,
    corpus: CorpusStats | None = None,
    depth: tuple[int, int] | None = None,
) -> Ranked:
    """The books matching `plan`, best first, with their matched pages, counted and ranked once per snapshot.

    `corpus` is the whole collection's stats when this index is one shard of it (None: its own).
    Without `depth`, every page of every book is counted (exact totals). With `depth`
    (books, hits), only the first books are held, at least `books` of them and enough to
    hold `hits` hits, when book counts let the rest be skipped (indexer/index/top_books.py);
    the totals may then be lower bounds. Either way the order is the same. A query whose
    terms hold fewer than EVERY_PAGE_BELOW pages (ONE_SLOT_EVERY_PAGE_BELOW for one word, or a
    prefix whose terms share no positions), or of several units, is counted on every
    page all the same (`_book_counts_pay`: where the book counts were measured to lose).
    """

    def every_page() -> Ranked:
        return snapshot.cached(
            ("ranked", plan, corpus),
            lambda: rank_books(snapshot, *count_pages(snapshot, plan, None, deadline), corpus),
            lambda ranked: ranked.weight() + _plan_bytes(plan),
        )

    if depth is None or not _book_counts_pay(snapshot, plan):
        return every_page()
    return snapshot.cached(
        ("top", plan, corpus, depth),
        lambda: top_books(snapshot, plan, depth[0], depth[1], deadline, corpus) or every_page(),
        lambda ranked: ranked.weight() + _plan_bytes(plan),
    )


def near_only_terms(snapshot: Snapshot, query: Query, plan: Plan) -> frozenset[str]:
    """The terms of `plan` that only a fuzzy word's near spellings brought in (none without `word~`)."""
    if not query.has_fuzzy:
        return frozenset()
    named = {slot.text for unit in query.units for slot in unit.slots if not slot.prefix}
    for unit in query.units:
        for slot in unit.slots:
            if slot.prefix:
                named.update(expand_prefix(snapshot, slot.text))
    return frozenset(term for unit in plan for slot in unit for term in slot) - named


def _as_typed_first(
    snapshot: Snapshot,
    query: Query,
    book_id: str | None,
    docnums: array[int],
    counts: array[int],
    deadline: Deadline,
) -> tuple[array[int], array[int]]:
    """The matched pages reordered: those where the query as typed (no `~`) matches first, order kept."""
    exact = plan_query(snapshot, query.as_typed())
    if exact is None:
        return docnums, counts
    typed = set(count_pages(snapshot, exact, book_id, deadline)[0])
    first = [i for i, docnum in enumerate(docnums) if docnum in typed]
    if not first or len(first) == len(docnums):
        return docnums, counts
    rest = [i for i, docnum in enumerate(docnums) if docnum not in typed]
    order = first + rest
    return array("q", (docnums[i] for i in order)), array("q", (counts[i] for i in order))


def _plan_bytes(plan: Plan) -> int:
    """Estimated bytes of a plan kept as a cache key (a prefix's terms are up to 200 strings)."""
    return sum(60 + len(term) for unit in plan for slot in unit for term in slot)


def page_hits_of(record: PageRecord, plan: Plan, near: frozenset[str] = frozenset()) -> list[Hit]:
    """Every hit of `plan` on one stored page, drawn from its stored tokens and words.

    A hit holding a token of `near` (near_only_terms) is marked `near`, one found through an
    alternative reading of a printed word (#21) `alternative`.
    """
    wanted = frozenset().union(*(slot for unit in plan for slot in unit))
    positions, through = record_positions(record.tokens, wanted, record.alternatives, record.alternative_positions)
    spans = hit_spans(plan, positions)
    if not spans:
        return []
    text = _PageText(record)
    tokens = record.tokens
    return [
        text.hit(
            first,
            last,
            near=bool(near) and any(tokens[i] in near for i in range(first, last + 1)),
            alternative=bool(through) and any(first <= i <= last for i in through),
        )
        for first, last in spans
    ]


class _PageText:
    """The printed words of one stored page, turned into hit text and boxes.

    Reads the record's columns (indexer.index.records.PageRecord): `texts[i]`, and
    `boxes[5*i : 5*i + 5]` = x, y, w, h, line.
    """

    def __init__(self, record: PageRecord) -> None:
        self.record = record
        self.texts = record.texts
        self.boxes = record.boxes
        spans, boxes = record.spans, record.boxes
        firsts, lasts = spans[0::2], spans[1::2]
        # Word i and i+1 are the two halves of a word hyphenated across a line end. Most
        # pages have no token spanning two words: one comparison (in C) tells.
        self.joins: set[int] = set()
        if firsts != lasts:
            flat = np.frombuffer(spans, dtype=np.intc) if isinstance(spans, array) else np.asarray(spans, dtype=np.intc)
            pairs = flat.reshape(-1, 2)
            spanning = pairs[pairs[:, 1] == pairs[:, 0] + 1, 0].tolist()
            self.joins = {a for a in spanning if boxes[5 * a + 4] != boxes[5 * a + 9]}
        self._sorted_joins = sorted(self.joins)

    def _line(self, i: int) -> int:
        return self.boxes[5 * i + 4]

    def _joins_between(self, low: int, high: int) -> bool:
        """Whether a hyphenated word's first half is among words low..high."""
        joins = self._sorted_joins
        k = bisect_left(joins, low)
        return k < len(joins) and joins[k] <= high

    def text(self, first: int, last: int) -> str:
        """Words first..last as one string, hyphenated halves joined."""
        texts = self.texts
        low, high = max(0, first), min(last, len(texts) - 1)
        # Most stretches of text hold no hyphenated word: one join, in C.
        if not self._joins_between(low, high - 1):
            return " ".join(texts[low : high + 1])
        joins = self.joins
        parts: list[str] = []
        for i in range(low, high + 1):
            if i - 1 in joins and i - 1 >= first:
                parts[-1] = parts[-1].rstrip(_HYPHENS) + texts[i]
            else:
                parts.append(texts[i])
        return " ".join(parts)

    def hit(self, first_token: int, last_token: int, *, near: bool = False, alternative: bool = False) -> Hit:
        record = self.record
        first = record.spans[2 * first_token]
        last = record.spans[2 * last_token + 1]
        matches: list[Match] = []
        line_start = first
        for i in range(first, last):  # one match per line the hit spans
            if self._line(i + 1) != self._line(i):
                matches.append(self._match(line_start, i))
                line_start = i + 1
        matches.append(self._match(line_start, last))
        return Hit(
            book_id=record.book_id,
            canvas_index=record.canvas_index,
            canvas_id=record.canvas_id,
            text=self.text(first, last),
            before=self._before(first),
            after=self._after(last),
            matches=tuple(matches),
            first_token=first_token,
            last_token=last_token,
            near=near,
            alternative=alternative,
        )

    def _match(self, first: int, last: int) -> Match:
        b = self.boxes
        if first == last:  # most hits: one word
            x, y, w, h, line = b[5 * first : 5 * first + 5]
            return Match(self.texts[first], Box(x, y, max(1, w), max(1, h)), line, first, last)
        xs = b[5 * first : 5 * last + 5 : 5]
        ys = b[5 * first + 1 : 5 * last + 5 : 5]
        x1 = max(x + w for x, w in zip(xs, b[5 * first + 2 : 5 * last + 5 : 5], strict=True))
        y1 = max(y + h for y, h in zip(ys, b[5 * first + 3 : 5 * last + 5 : 5], strict=True))
        x0, y0 = min(xs), min(ys)
        # A hit never gets a zero-size box, whatever the OCR said.
        box = Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))
        return Match(" ".join(self.texts[first : last + 1]), box, self._line(first), first, last)

    def _before(self, first: int) -> str:
        texts = self.texts
        start, length = first, 0
        while start > 0 and length < CONTEXT_CHARS:
            start -= 1
            length += len(texts[start]) + 1
        if start > 0 and start - 1 in self.joins:
            start -= 1  # do not cut a hyphenated word in half
        return self.text(start, first - 1) + " " if start < first else ""

    def _after(self, last: int) -> str:
        texts = self.texts
        count = len(texts)
        end, length = last, 0
        while end < count - 1 and length < CONTEXT_CHARS:
            end += 1
            length += len(texts[end]) + 1
        if end in self.joins:
            end += 1
        return " " + self.text(last + 1, end) if end > last else ""


# -- autocomplete ------------------------------------------------------------------------


def terms(snapshot: Snapshot, prefix: str, book_id: str | None, min_count: int, limit: int) -> list[Term]:
    """Index terms starting with `prefix` in one book (or all), in alphabetical order.

    `prefix` is folded like a query word; one that folds to several tokens ("green
    bir") matches no single term, so gives none (Search 1.0 §4.2: the string is not
    split). Of the terms occurring at least `min_count` times, the `limit` most
    frequent are returned, sorted alphabetically (Search 2.0 §5.3, 1.0 §4.3 SHOULD).
    """
    parts = text_tokens(prefix)
    if len(parts) != 1:
        return []
    # Many readers type the same first letters: answer each prefix once per snapshot.
    return snapshot.cached(
        ("terms", parts[0], book_id, min_count, limit),
        lambda: _terms(snapshot, parts[0], book_id, min_count, limit),
        lambda found: 100 * len(found) + len(parts[0]),
    )


def _terms(snapshot: Snapshot, prefix: str, book_id: str | None, min_count: int, limit: int) -> list[Term]:
    """terms() for one already-folded prefix token, uncached."""
    candidates = expand_prefix(snapshot, prefix, AUTOCOMPLETE_CANDIDATES)
    counts = snapshot.term_counts(candidates, book_id)
    found = [Term(term, count) for term, count in counts.items() if count >= max(1, min_count)]
    top = sorted(found, key=lambda t: (-t.count, t.text))[: max(0, limit)]
    return sorted(top, key=lambda t: t.text)
