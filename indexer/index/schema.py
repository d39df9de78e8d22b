"""The Whoosh schema of the index, the terms of adjacent common words, and document keys.

One document per book (`kind=book`: its record and manifest) and one per canvas
(`kind=page`: its tokens for matching and its stored record for drawing hits). Also
holds the one fix this project makes to Whoosh itself (segment names, below).
"""

from __future__ import annotations

import itertools
import random
import string
from collections import Counter
from collections.abc import Iterable, Sequence

from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec import base as whoosh_codec
from whoosh.fields import ID, NUMERIC, STORED, TEXT, FieldType, Schema

from indexer.index.common_words import is_common
from indexer.index.postings_codec import ArrayPositions, CountsFormat

# Whoosh names each new segment with the global `random` module, so a program that seeds
# it (a notebook's random.seed(0), a test framework) gets the same name for two writes, and
# the second commit fails on, or writes over, the first one's files. Names from the system's
# random source cannot be seeded.
_SEGMENT_NAMES = random.SystemRandom()
_SEGMENT_ALPHABET = string.digits + string.ascii_lowercase


def _segment_id(cls: type, size: int = 16) -> str:
    return "".join(_SEGMENT_NAMES.choice(_SEGMENT_ALPHABET) for _ in range(size))


whoosh_codec.Segment._random_id = classmethod(_segment_id)

#: Pairs of adjacent common words; its name changes with the list in common_words.py.
PAIRS_FIELD = "common_pairs"


#: On a book's document: how often each token, and each pair of adjacent common words, occurs
#: in the whole book (#20). A one-word search ranks books from these postings, one per book,
#: instead of counting every page that holds the word.
BOOK_COUNTS_FIELD = "book_counts"


#: In `book_counts`, the mark of a book whose pages hold no alternative reading (#21): where every
#: book has it, no two terms share a position, so a prefix's hits are its terms' occurrences
#: summed (no positions read to find shared ones) and its books rank from exact book counts.
#: No token or pair begins with `_`. A book written before the mark counts as holding some.
NO_ALTERNATIVES_MARK = "_no_alternatives"


def _counts_field() -> FieldType:
    return FieldType(CountsFormat(), analyzer=SpaceSeparatedTokenizer(), scorable=False, stored=False)


def book_counts(pages_tokens: Iterable[Sequence[str]], alternatives: Iterable[str] = ()) -> list[tuple[str, int]]:
    """The `book_counts` field of a book whose pages have these tokens: tokens and common pairs, counted.

    `alternatives`: the alternative readings the index holds beside them (#21), each counted
    as an occurrence (they sit at their printed word's position; no pair is made of them).

    >>> book_counts([["de", "la", "ville"], ["de", "la"]], ["vilie"])
    [('de', 2), ('de_la', 2), ('la', 2), ('vilie', 1), ('ville', 1)]
    """
    counts: Counter[str] = Counter(alternatives)
    for tokens in pages_tokens:
        counts.update(tokens)
        counts.update(pair_term(a, b) for a, b in itertools.pairwise(tokens) if is_indexed_pair(a, b))
    return sorted(counts.items())


def _text_field() -> TEXT:
    """The page text: positions stored as plain uint32 arrays (postings_codec.py)."""
    text = TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True)
    text.format = ArrayPositions(field_boost=text.format.field_boost)
    return text


# Tokens arrive normalised by ocr.text.tokens() and joined by single spaces, so the
# analyzer only splits: token i of a page is at position i in the index.
SCHEMA = Schema(
    key=ID(unique=True, stored=True),
    kind=ID(stored=True),
    book=ID(stored=True, sortable=True),
    canvas=NUMERIC(stored=True, sortable=True),
    text=_text_field(),
    # Two adjacent common words (common_words.py) as one term `a_b`, with counts and no
    # positions (Solr's CommonGrams): "de la" is counted like a word, and a longer
    # phrase reads positions only on the pages holding its pairs. Without it, "et a" over
    # 100,000 pages decoded the positions of both words on 50,000 pages (1.8 s).
    common_pairs=TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=False),
    book_counts=_counts_field(),
    data=STORED,
    # A book's manifest apart from its small record: listing 300 books must not decode
    # 300 manifests (that was 1.5 GB per server worker on a 100,000-page collection).
    manifest=STORED,
)


def pair_term(first: str, second: str) -> str:
    """The `common_pairs` term for two adjacent tokens (tokens hold no `_`: ocr.text).

    >>> pair_term("de", "la")
    'de_la'
    """
    return f"{first}_{second}"


def is_indexed_pair(first: str, second: str) -> bool:
    """Whether the `common_pairs` field holds this pair wherever it occurs.

    >>> is_indexed_pair("de", "la"), is_indexed_pair("de", "perou")
    (True, False)
    """
    return is_common(first) and is_common(second)


def pairs_text(tokens: Sequence[str]) -> str:
    """The `common_pairs` field of a page with these tokens.

    >>> pairs_text(["roi", "de", "la", "ville"])
    'de_la'
    """
    return " ".join(pair_term(a, b) for a, b in itertools.pairwise(tokens) if is_indexed_pair(a, b))


def document_key(book_id: str, canvas_index: int | None = None) -> str:
    """The unique `key` of a book's document, or of one of its pages.

    >>> document_key("harper"), document_key("harper", 3)
    ('b:harper', 'p:harper:3')
    """
    return f"b:{book_id}" if canvas_index is None else f"p:{book_id}:{canvas_index}"
