"""What a hit is, and every way of counting the hits of a query on every page.

The rule is `hit_spans(plan, positions)`: given where each term of a query occurs on a
page, the hits as token spans. It draws the hits of the pages a result page shows
(search_service/search/hits.py, from a page's stored tokens), and it is the definition that
each faster strategy of `count_pages` must agree with (tests/indexer/index/test_counting.py
checks each one against it on every stored page):

- one word or one prefix: each occurrence is a hit, so the index's counts are the
  hits (`_count_occurrences`);
- a two-word phrase, or several words, of common words whose adjacent pairs are
  indexed: word counts minus pair counts (`_count_by_pairs`);
- any query where no term fills two slots: occurrences as `docnum << 32 | position`
  keys in numpy (`sequence_counts`);
- anything else (a word twice): the pages holding every term, then `hit_spans` on
  each page's positions (`match`).
"""

from __future__ import annotations

import functools
import itertools
import time
from array import array
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from indexer.errors import QueryTooCostly
from indexer.index import postings
from indexer.index.schema import PAIRS_FIELD, is_indexed_pair, pair_term
from indexer.index.snapshot import Snapshot

#: One query unit resolved against the index: for each of its slots, the index terms that fill it.
UnitPlan = tuple[frozenset[str], ...]
#: A query resolved against the index: its units, all required on a page.
Plan = tuple[UnitPlan, ...]


@dataclass(frozen=True, slots=True)
class PageMatch:
    """A canvas that holds every group of a query.

    `positions` maps each matched index term to its token positions on the page;
    it is filled only when asked for (counting hits of one word needs none).
    """

    docnum: int
    book_id: str
    canvas_index: int
    counts: dict[str, int]
    positions: dict[str, list[int]] | None = None


# -- the rule -------------------------------------------------------------------------------


def token_positions(page_tokens: Sequence[str], wanted: Collection[str] | None = None) -> dict[str, list[int]]:
    """Token -> its positions on a page, as the index records them (token i at position i).

    With `wanted`, only those tokens are collected (what a plan needs, and much less work).
    """
    positions: dict[str, list[int]] = {}
    if wanted is not None and len(wanted) <= 8:
        # A few terms: list.index scans in C, Python steps only per occurrence found.
        for term in wanted:
            found: list[int] = []
            at = -1
            try:
                while True:
                    at = page_tokens.index(term, at + 1)
                    found.append(at)
            except ValueError:
                pass
            if found:
                positions[term] = found
        return positions
    for i, token in enumerate(page_tokens):
        if wanted is None or token in wanted:
            positions.setdefault(token, []).append(i)
    return positions


def record_positions(
    tokens: Sequence[str],
    wanted: Collection[str],
    alternatives: Sequence[str] = (),
    alternative_positions: Sequence[int] = (),
) -> tuple[dict[str, list[int]], frozenset[int]]:
    """A stored page's positions of the `wanted` terms, its alternative readings' included (#21), as the index has them.

    Also the positions matched only through an alternative (the printed token there is not
    wanted), so a hit over one can be labelled.

    >>> record_positions(["die", "frciheit"], {"freiheit"}, ["freiheit"], [1])
    ({'freiheit': [1]}, frozenset({1}))
    """
    positions = token_positions(tokens, wanted)
    through: set[int] = set()
    for token, position in zip(alternatives, alternative_positions, strict=True):
        if token in wanted:
            found = positions.setdefault(token, [])
            if position not in found:
                found.append(position)
                found.sort()
            if tokens[position] not in wanted:
                through.add(position)
    return positions, frozenset(through)


def hit_spans(plan: Plan, positions: Mapping[str, Sequence[int]]) -> list[tuple[int, int]]:
    """The hits on one page as (first token, last token) spans, in reading order.

    `positions` maps index terms to their token positions on the page (from the
    index, or from `token_positions` of the stored tokens). A unit occurs where its
    slots' terms follow each other; a page with no occurrence of some unit has no
    hits. Occurrences of units that follow each other in the query and on the page
    form one hit ("hand is" on "in the hand is worth"); occurrences never overlap
    (at one position the longest chain wins, then the next free position is tried).

    >>> hit_spans(((frozenset({"hand"}),), (frozenset({"is"}),)), {"hand": [3], "is": [4, 9]})
    [(3, 4), (9, 9)]
    """
    occurrences: list[set[int]] = []
    for unit in plan:
        first = _slot_positions(unit[0], positions)
        if len(unit) == 1:
            starts = first
        else:
            rest = [_slot_positions(slot, positions) for slot in unit[1:]]
            starts = {p for p in first if all(p + j in slot for j, slot in enumerate(rest, start=1))}
        if not starts:
            return []
        occurrences.append(starts)
    lengths = [len(unit) for unit in plan]
    if len(plan) == 1 and lengths[0] == 1:
        return [(p, p) for p in sorted(occurrences[0])]  # one word: every occurrence, none can overlap
    by_start: dict[int, list[int]] = {}
    for u, starts in enumerate(occurrences):
        for p in starts:
            by_start.setdefault(p, []).append(u)
    spans: list[tuple[int, int]] = []
    free_from = 0
    last_unit = len(plan) - 1
    for p in sorted(by_start):
        if p < free_from:
            continue
        best_end = -1
        for u in by_start[p]:
            end, k = p + lengths[u] - 1, u
            # Chain the next query unit while it starts right after this one.
            while k < last_unit and end + 1 in occurrences[k + 1]:
                k += 1
                end += lengths[k]
            if end > best_end:
                best_end = end
        spans.append((p, best_end))
        free_from = best_end + 1
    return spans


def _slot_positions(slot: frozenset[str], positions: Mapping[str, Sequence[int]]) -> set[int]:
    """Positions of any of a slot's terms."""
    if len(slot) == 1:
        (term,) = slot
        return set(positions.get(term, ()))
    found: set[int] = set()
    for term in slot:
        found.update(positions.get(term, ()))
    return found


# -- counting every page --------------------------------------------------------------------


class Deadline:
    """The time a search may take: `check()` raises QueryTooCostly once it has passed.

    Called between steps of counting (a term read, a few hundred pages), so a search
    stops within a step of its limit (#16: a phrase of 64 prefixes took 103 s).

    >>> Deadline(None).check()  # no limit
    >>> Deadline(-1).check()
    Traceback (most recent call last):
    ...
    indexer.errors.QueryTooCostly: this search needs more than -1 s of work...
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.at = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise QueryTooCostly(
                f"this search needs more than {self.seconds:g} s of work, this server's limit; "
                "narrow it: fewer or longer prefixes (word*), fewer repeated words, or one book"
            )


_NO_LIMIT = Deadline(None)

#: Counting page by page (`match`, for a word that fills two slots) holds each term's
#: positions on each candidate page in Python objects: past these, a query would need
#: hundreds of megabytes (a phrase of two 200-term prefixes over 100,000 pages), and it
#: is refused before it does. Plain words and phrases never come here (#16).
MAX_KEPT_POSTINGS = 1_000_000
MAX_PAGE_TERMS = 2_000_000
_PAGE_BY_PAGE_TOO_COSTLY = (
    "this search repeats a word or prefix over too many pages to count them one by one; "
    "narrow it: longer prefixes (word*), no word twice, or one book"
)


def count_pages(
    snapshot: Snapshot, plan: Plan, book_id: str | None, deadline: Deadline = _NO_LIMIT
) -> tuple[array[int], array[int]]:
    """The pages holding `plan` in reading order, with the number of hits (`hit_spans`) on each.

    Over one book, or every book when `book_id` is None. Picks the cheapest strategy
    that gives the rule's count (see the module docstring). Compact arrays: a cached
    result costs 16 bytes a page. Raises QueryTooCostly past the deadline.
    """
    docnums: Sequence[int]
    counts: Sequence[int]
    deadline.check()
    if _single_slot(plan):
        docnums, counts = _count_occurrences(snapshot, sorted(plan[0][0]), book_id, deadline)
    elif snapshot.has_pairs and _countable_by_pairs(plan):
        docnums, counts = _count_by_pairs(snapshot, plan, book_id, deadline)
    elif (units := _disjoint_units(plan)) is not None:
        docnums, counts = sequence_counts(snapshot, units, book_id, deadline)
    else:
        groups = sorted({tuple(sorted(slot)) for unit in plan for slot in unit})
        matches = match(snapshot, groups, book_id, positions=True, pairs=_adjacent_pairs(plan), deadline=deadline)
        docnums, counts = [], []
        for i, page in enumerate(matches):
            if i % 256 == 255:
                deadline.check()
            docnums.append(page.docnum)
            counts.append(len(hit_spans(plan, page.positions or {})))
    return _q_array(docnums), _q_array(counts)


def _single_slot(plan: Plan) -> bool:
    return len(plan) == 1 and len(plan[0]) == 1


def _count_occurrences(
    snapshot: Snapshot, terms: Sequence[str], book_id: str | None, deadline: Deadline
) -> tuple[array[int], array[int]]:
    """Pages holding any of `terms` in reading order, with the terms' occurrences on each.

    For a one-word (or one-prefix) query, where each occurrence is one hit: no
    positions, no per-page objects.
    """
    ids, counts, holders = snapshot.occurrence_arrays(terms, book_id, check=deadline.check)
    if len(terms) > 1 and len(ids) and snapshot.shares_positions(book_id):
        counts = counts - _shared_positions(snapshot, terms, book_id, ids, ids[holders > 1], deadline)
    order = snapshot.reading_order(ids)
    return _int_array(ids[order]), _int_array(counts[order])


def _shared_positions(
    snapshot: Snapshot,
    terms: Sequence[str],
    book_id: str | None,
    ids: np.ndarray,
    candidates: np.ndarray,
    deadline: Deadline,
) -> np.ndarray:
    """Per page of `ids` (ascending), the occurrences of `terms` at a position another of them already fills.

    A position holds one printed token, but also its alternative readings (#21): a prefix
    (`frei*`) matching the printed `frciheit` and its alternative `freiheit` is one hit there,
    as `hit_spans` counts it, not two. Only pages holding two or more of the terms can have
    such a position (the `candidates`, ascending), so only their positions are kept, as
    `docnum << 32 | position` keys, and a position filled twice is two equal keys side by
    side once sorted: numpy over whole posting lists, not a Python step per posting of the
    candidate pages, which took 5 s for `de*` (200 terms on 93% of 100,000 pages) and was
    slower from a few hundred candidate pages on (docs/benchmarks.md; #20).
    """
    shared = np.zeros(len(ids), np.int64)
    if not len(candidates):
        return shared
    keys = []
    for term in dict.fromkeys(terms):
        deadline.check()
        arrays = snapshot.term_arrays(term, positions=True, book_id=book_id)
        keys.append(arrays.select(np.isin(arrays.ids, candidates)).keys())
    joined = np.sort(np.concatenate(keys))
    twice = joined[1:][joined[1:] == joined[:-1]] >> 32  # the page of each position filled again
    found, times = np.unique(twice, return_counts=True)
    shared[np.searchsorted(ids, found)] = times
    return shared


def _countable_by_pairs(plan: Plan) -> bool:
    """Whether word and pair counts alone give `hit_spans`' count on every page.

    True for a two-word phrase and for several single words, each slot one term, no
    term twice, and each two neighbours common words (so their pair is indexed):
    occurrences then never overlap, a phrase occurs once per pair, and words chain
    only where one is followed by the next in the query, so a page has
    (sum of its words' counts) - (sum of those adjacent pairs' counts) hits.
    """
    if any(len(slot) != 1 for unit in plan for slot in unit):
        return False
    terms = [term for unit in plan for slot in unit for term in slot]
    if len(terms) < 2 or len(set(terms)) != len(terms):
        return False  # one word is counted from its occurrences
    if not ((len(plan) == 1 and len(plan[0]) == 2) or all(len(unit) == 1 for unit in plan)):
        return False
    # Every pair counted must be indexed (two common words); any other pair has a rare
    # word, which leaves few pages for the positions path.
    return all(is_indexed_pair(a, b) for a, b in itertools.pairwise(terms))


def _count_by_pairs(
    snapshot: Snapshot, plan: Plan, book_id: str | None, deadline: Deadline
) -> tuple[list[int], list[int]]:
    """Pages and their hit counts for a plan `_countable_by_pairs`, without positions."""

    def per_page(term: str, field: str = "text") -> dict[int, int]:
        ids, counts = snapshot.count_arrays([term], book_id, field, check=deadline.check)
        return dict(zip(ids.tolist(), counts.tolist(), strict=True))

    terms = [term for unit in plan for slot in unit for term in slot]
    if len(plan) == 1:  # "a b"
        counts = per_page(pair_term(*terms), PAIRS_FIELD)
        docnums = snapshot.in_reading_order(counts)
        return docnums, [counts[d] for d in docnums]
    per_word = [per_page(term) for term in terms]
    rarest: dict[int, int] = min(per_word, key=len)
    pages = set(rarest)
    for counts in per_word:
        pages.intersection_update(counts)
    if not pages:
        return [], []
    chained = [per_page(pair_term(a, b), PAIRS_FIELD) for a, b in itertools.pairwise(terms)]
    docnums = snapshot.in_reading_order(pages)
    return docnums, [sum(counts[d] for counts in per_word) - sum(links.get(d, 0) for links in chained) for d in docnums]


def _disjoint_units(plan: Plan) -> list[list[list[str]]] | None:
    """The plan's units as lists of slots (lists of terms) when no term fills two slots; else None.

    Such a plan is counted by `sequence_counts` (its occurrences cannot overlap).
    """
    terms = [term for unit in plan for slot in unit for term in slot]
    if len(set(terms)) != len(terms):
        return None
    return [[sorted(slot) for slot in unit] for unit in plan]


def sequence_counts(
    snapshot: Snapshot,
    units: Sequence[Sequence[Collection[str]]],
    book_id: str | None,
    deadline: Deadline = _NO_LIMIT,
) -> tuple[array[int], array[int]]:
    """Pages holding every unit, in reading order, with their hits, when no term fills two slots.

    A unit is slots that must follow each other (a phrase, or one word); a slot is
    the terms that may fill it (one word, or a prefix's terms). With no term in two
    slots, occurrences never overlap, and an occurrence of unit k+1 right after one
    of unit k joins it into one hit, so a page holds (its units' occurrences) -
    (such joins) hits: the rule of `hit_spans`, counted with numpy over
    `docnum << 32 | position` keys instead of page by page. "pour balboa" over
    100,000 pages went from ~400 ms to a few tens.
    """
    terms = [term for unit in units for slot in unit for term in slot]
    if len(set(terms)) != len(terms) or not units or not all(units) or not all(all(unit) for unit in units):
        raise ValueError("sequence_counts needs non-empty units whose slots share no term")  # use match()
    if snapshot.searcher is None:
        return array("q"), array("q")
    term_keys: dict[str, np.ndarray] = {}
    for term in terms:
        deadline.check()
        arrays = snapshot.term_arrays(term, positions=True, book_id=book_id)
        if len(arrays.ids):
            term_keys[term] = arrays.keys()
    # A slot's keys: its terms' keys merged, a position once (alternatives share their printed word's).
    keys = [[_merged([term_keys[t] for t in slot if t in term_keys]) for slot in unit] for unit in units]
    starts = []  # per unit: the keys where an occurrence of it starts
    for unit in keys:
        # From the unit's rarest slot: few keys to look up in the others' long lists.
        rarest = min(range(len(unit)), key=lambda i: len(unit[i]))
        found = unit[rarest] - rarest
        for offset, slot in enumerate(unit):
            if offset != rarest:
                found = found[_holds(slot, found + offset)]
        starts.append(found)
    pages = functools.reduce(np.intersect1d, [np.unique(found >> 32) for found in starts])
    if not len(pages):
        return array("q"), array("q")
    hits = np.zeros(len(pages), np.int64)
    for k, found in enumerate(starts):
        hits += _per_page(found, pages)
        if k + 1 < len(starts):
            joined = found[_holds(starts[k + 1], found + len(units[k]))]
            hits -= _per_page(joined, pages)
    order = snapshot.reading_order(pages)
    return _int_array(pages[order]), _int_array(hits[order])


def _adjacent_pairs(plan: Plan) -> list[tuple[str, str]]:
    """Tokens a matching page must hold side by side: consecutive one-term slots of a phrase."""
    pairs: list[tuple[str, str]] = []
    for unit in plan:
        for a, b in itertools.pairwise(unit):
            if len(a) == 1 and len(b) == 1:
                pairs.append((next(iter(a)), next(iter(b))))
    return pairs


def match(
    snapshot: Snapshot,
    groups: Sequence[Sequence[str]],
    book_id: str | None,
    *,
    positions: bool,
    pairs: Sequence[tuple[str, str]] = (),
    deadline: Deadline = _NO_LIMIT,
) -> list[PageMatch]:
    """Pages holding at least one term of every group (and every `pairs` term), in reading order.

    Reading order is book id, then canvas index. With `positions`, each match
    carries the token positions of its terms; otherwise only their counts.
    `pairs` (two tokens that must be adjacent somewhere on the page; used when the
    index holds them, see `is_indexed_pair`) only narrow the pages.
    """
    if snapshot.searcher is None or not groups:
        return []
    docs = snapshot.docs_of(book_id) if book_id is not None else None
    if docs is not None and not docs:
        return []
    # First the pages holding every group, from document ids alone (whole posting
    # blocks, cheap); then counts and positions for just those pages. A phrase of a
    # common word and a rare one no longer decodes the common word's positions on
    # every page of the collection.
    allowed = set(docs) if docs is not None else None
    required: list[tuple[Sequence[str], str]] = [(group, "text") for group in groups]
    pairs = [pair for pair in pairs if is_indexed_pair(*pair)]
    if snapshot.has_pairs and pairs:
        # A page holding the pair `a_b` holds `a` and `b`: those groups need no reading.
        # Pairs are rarer than their words, so few pages are left to check positions on.
        covered = {token for pair in pairs for token in pair}
        required = [((pair_term(*pair),), PAIRS_FIELD) for pair in dict.fromkeys(pairs)] + [
            (group, name) for group, name in required if not covered.intersection(group)
        ]
    # The word blocks read for the ids are kept for their positions (read once, not twice).
    wanted, read = _candidate_pages(snapshot, book_id, required, allowed, positions, deadline)
    if not wanted:
        return []
    terms = list(dict.fromkeys(t for group in groups for t in group))
    if positions and len(wanted) * len(terms) > MAX_PAGE_TERMS:
        raise QueryTooCostly(_PAGE_BY_PAGE_TOO_COSTLY)
    per_doc = _postings_on(snapshot, terms, wanted, read, positions, deadline)
    keys = snapshot.book_and_canvas()
    matches = []
    for docnum, found in per_doc.items():
        book, canvas = keys[docnum]
        matches.append(
            PageMatch(
                docnum=docnum,
                book_id=book,
                canvas_index=canvas,
                counts={t: f for t, (f, _) in found.items()},
                positions={t: p or [] for t, (_, p) in found.items()} if positions else None,
            )
        )
    rank = snapshot.rank()
    matches.sort(key=lambda m: rank[m.docnum])
    return matches


def _candidate_pages(
    snapshot: Snapshot,
    book_id: str | None,
    required: list[tuple[Sequence[str], str]],
    allowed: set[int] | None,
    keep_blocks: bool,
    deadline: Deadline,
) -> tuple[list[int], dict[str, list[postings.Block]]]:
    """The sorted docnums holding a term of every required group (from ids alone), and the text blocks read."""
    read: dict[str, list[postings.Block]] = {}
    candidates: set[int] | None = None
    kept = 0
    for group, field_name in required:
        ids: set[int] = set()
        for term in dict.fromkeys(group):
            deadline.check()
            blocks = snapshot.blocks(term, field_name, book_id)
            if field_name == "text" and keep_blocks:
                read[term] = blocks
                kept += sum(len(block_ids) for block_ids, _, _ in blocks)
                if kept > MAX_KEPT_POSTINGS:
                    raise QueryTooCostly(_PAGE_BY_PAGE_TOO_COSTLY)
            for block_ids, _, _ in blocks:
                ids.update(block_ids)
        if allowed is not None:
            ids &= allowed
        candidates = ids if candidates is None else candidates & ids
        if not candidates:
            return [], read
    return sorted(candidates or ()), read


def _postings_on(
    snapshot: Snapshot,
    terms: Sequence[str],
    wanted: list[int],
    read: dict[str, list[postings.Block]],
    positions: bool,
    deadline: Deadline,
) -> dict[int, dict[str, tuple[int, list[int] | None]]]:
    """docnum -> term -> (frequency, positions or None) on the `wanted` pages, from `read` blocks where kept."""
    per_doc: dict[int, dict[str, tuple[int, list[int] | None]]] = {d: {} for d in wanted}
    decode = snapshot.decode_positions
    for term in terms:
        deadline.check()
        if term in read:
            for block_ids, weights, values in read[term]:
                for i, docnum in enumerate(block_ids):
                    if docnum in per_doc:
                        per_doc[docnum][term] = (int(weights[i]), decode(values[i]))
            continue
        for docnum, value in snapshot.postings_among(term, wanted, positions=positions).items():
            per_doc[docnum][term] = value
    return per_doc


# -- numpy helpers --------------------------------------------------------------------------


def _holds(sorted_keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Boolean mask: which of `wanted` are in `sorted_keys` (ascending)."""
    if not len(sorted_keys):
        return np.zeros(len(wanted), bool)
    at = np.minimum(np.searchsorted(sorted_keys, wanted), len(sorted_keys) - 1)
    return sorted_keys[at] == wanted  # type: ignore[no-any-return]


def _int_array(values: np.ndarray) -> array[int]:
    """A numpy int array as array('q'): compact, and no Python int per item for the GC to walk."""
    return array("q", values.astype(np.int64, copy=False).tobytes())


def _merged(parts: list[np.ndarray]) -> np.ndarray:
    """Sorted keys of several terms together, each position once: a printed token and its
    alternative reading (#21) both filling a slot there are one occurrence, not two."""
    if len(parts) == 1:
        return parts[0]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def _per_page(keys: np.ndarray, pages: np.ndarray) -> np.ndarray:
    """How many of `keys` fall on each of `pages` (ascending docnums); keys elsewhere are dropped."""
    docs = keys >> 32
    docs = docs[_holds(pages, docs)]
    return np.bincount(np.searchsorted(pages, docs), minlength=len(pages)).astype(np.int64)


def _q_array(values: Sequence[int]) -> array[int]:
    return values if isinstance(values, array) and values.typecode == "q" else array("q", values)
