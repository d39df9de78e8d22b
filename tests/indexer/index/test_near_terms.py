"""The near-term lookup of fuzzy words (#14): one lookup over the union of segments finds what one per segment does."""

from __future__ import annotations

import random

import pytest

from indexer.index import near_terms
from indexer.index.near_terms import NearTerms, near_terms_over


def _per_segment(parts: list[NearTerms], word: str, distance: int) -> list[tuple[str, int]]:
    best: dict[str, int] = {}
    for part in parts:
        for term, edits in part.within(word, distance):
            best[term] = min(edits, best.get(term, edits))
    return sorted(best.items(), key=lambda item: (item[1], item[0]))


def _segments(seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    letters = "aeinrstuäß"
    vocabulary = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(3000)})
    # Overlapping segments, as a collection's are (the same words in many books).
    return [sorted(rng.sample(vocabulary, 800)) for _ in range(5)]


@pytest.mark.parametrize("seed", [1, 2])
def test_union_finds_what_each_segment_finds(seed: int) -> None:
    parts = [NearTerms(terms) for terms in _segments(seed)]
    union = near_terms_over([f"{seed}-{n}" for n in range(len(parts))], parts)
    assert union is not None
    assert union.terms() == sorted({t for part in parts for t in part.terms()})
    rng = random.Random(seed)
    words = [*rng.sample(union.terms(), 60), "ßßß", "x", "straße"]
    for word in words:
        for distance in (0, 1, 2):
            assert union.within(word, distance) == _per_segment(parts, word, distance), (word, distance)


def test_union_is_kept_per_set_of_segments_and_skipped_past_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = [NearTerms(["frei", "heit"]), NearTerms(["frey", "heit"])]
    first = near_terms_over(["x", "y"], parts)
    assert first is not None and near_terms_over(["y", "x"], parts) is first
    assert near_terms_over(["x"], parts[:1]) is parts[0]
    assert near_terms_over([], []) is None
    monkeypatch.setattr(near_terms, "UNION_TERMS", 3)
    assert near_terms_over(["x", "z"], parts) is None
