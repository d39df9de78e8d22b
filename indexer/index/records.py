"""What the index stores for a book and for a page, and their blobs; knows nothing of Whoosh.

A page is stored in columns (`PageRecord`): its printed words with boxes in canvas
units, and the index tokens that stand for them, so a search draws its hits and boxes
from the index alone and never re-reads hOCR. A book keeps its manifest apart from a
small record (`BookRecord`), so listing books decodes no manifests.
"""

from __future__ import annotations

import json
import pickle
import zlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from indexer.errors import StoreError

# 4: the canvas's painting image (#20); 3: the alternatives' tokens and positions (#21);
# 3, 2 and 1 still read, as pages without them.
_BLOB_VERSION = 4


class StoredWord(NamedTuple):
    """A printed word on a canvas: display text and box in canvas units.

    A page read back from the index holds its words as plain tuples in this field
    order (see `PageRecord.words`); `PageRecord.word(i)` names the fields.
    """

    text: str
    x: int
    y: int
    w: int
    h: int
    line: int  # index of its line on the page, so a match spanning lines gets a box per line


#: A stored word as `(text, x, y, w, h, line)`: a StoredWord's fields in a plain tuple.
WordRow = tuple[str, int, int, int, int, int]
#: Word texts are joined with this in a stored page: a control character, which XML
#: (hOCR, ALTO) cannot carry, so no word holds it.
_TEXT_SEPARATOR = "\x1f"


def _int_column(values: list[int]) -> Sequence[int]:
    """32-bit ints in an array; a plain list if one does not fit (a canvas declared 10^30 wide)."""
    try:
        return array("i", values)
    except OverflowError:
        return values


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One canvas as indexed, held in columns.

    Word i is printed as `texts[i]`, its box and line are `boxes[5*i : 5*i + 5]`
    (x, y, w, h, line number on the page), in canvas units. `tokens` are the
    normalised index tokens in reading order; token t stands for the printed words
    `spans[2*t]..spans[2*t + 1]` (inclusive), two words for a word hyphenated across
    a line end. `alternatives[k]` is another reading of the printed token at position
    `alternative_positions[k]` (#21): indexed at that position, so a search for it finds the
    page and highlights the printed word.

    `image` is the canvas's painting image as `indexer.model.ImageRef.service_fields()`
    (its Image API service, version, profile and pixel size), `{}` for a canvas without
    one: what a hit's line picture needs, so a collection answer does not decode the
    book's whole manifest to draw the lines of the few pages it shows (#20).
    None where it is not known (pages written before #20): read the manifest then.

    Columns, not an object per word: a search of a big collection decodes a hundred
    pages per response, and a page of 400 word objects cost 90 us to decode and more
    to free, besides making every garbage collection walk them; a list of strings and
    two int arrays decode in about 15 us (tuples of strings, which the garbage collector
    stops tracking). `words`, `token_words` and `word(i)` give
    the per-word view where speed does not matter.
    """

    book_id: str
    canvas_index: int
    canvas_id: str
    label: str
    width: int
    height: int
    texts: Sequence[str]
    boxes: Sequence[int]
    tokens: Sequence[str]
    spans: Sequence[int]
    alternatives: Sequence[str] = ()
    alternative_positions: Sequence[int] = ()
    image: Mapping[str, Any] | None = None

    @classmethod
    def build(
        cls,
        book_id: str,
        canvas_index: int,
        canvas_id: str,
        label: str,
        width: int,
        height: int,
        words: Iterable[WordRow],
        tokens: Iterable[str],
        token_words: Iterable[tuple[int, int]],
        alternatives: Iterable[tuple[str, int]] = (),
        image: Mapping[str, Any] | None = None,
    ) -> PageRecord:
        """A record from per-word rows `(text, x, y, w, h, line)`, per-token word spans, (token, position) alternatives and image fields."""
        rows = list(words)
        others = sorted(set(alternatives), key=lambda pair: (pair[1], pair[0]))
        return cls(
            book_id=book_id,
            canvas_index=canvas_index,
            canvas_id=canvas_id,
            label=label,
            width=width,
            height=height,
            texts=tuple(row[0].replace(_TEXT_SEPARATOR, " ") for row in rows),
            boxes=_int_column([value for row in rows for value in row[1:6]]),
            tokens=tuple(tokens),
            spans=array("i", [i for span in token_words for i in span]),
            alternatives=tuple(token for token, _ in others),
            alternative_positions=array("i", [position for _, position in others]),
            image=image,
        )

    @property
    def words(self) -> tuple[WordRow, ...]:
        """Every word as a `(text, x, y, w, h, line)` row."""
        b = self.boxes
        return tuple(zip(self.texts, b[0::5], b[1::5], b[2::5], b[3::5], b[4::5], strict=True))

    @property
    def token_words(self) -> tuple[tuple[int, int], ...]:
        """Every token's (first word, last word)."""
        return tuple(zip(self.spans[0::2], self.spans[1::2], strict=True))

    def indexed_tokens(self) -> list[tuple[str, int]]:
        """(token, position) of every printed token and every alternative, as the index holds them."""
        return [
            *((token, i) for i, token in enumerate(self.tokens)),
            *zip(self.alternatives, self.alternative_positions, strict=True),
        ]

    def word(self, i: int) -> StoredWord:
        """Word i with named fields."""
        return StoredWord(self.texts[i], *self.boxes[5 * i : 5 * i + 5])

    def to_blob(self) -> bytes:
        # Not compressed here: Whoosh compresses every stored value itself.
        data = (
            _BLOB_VERSION,
            self.canvas_id,
            self.label,
            self.width,
            self.height,
            _TEXT_SEPARATOR.join(self.texts),
            self.boxes.tobytes() if isinstance(self.boxes, array) else list(self.boxes),
            " ".join(self.tokens),
            array("i", self.spans).tobytes(),
            " ".join(self.alternatives),
            array("i", self.alternative_positions).tobytes(),
            None if self.image is None else dict(self.image),
        )
        return pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_blob(cls, book_id: str, canvas_index: int, blob: bytes) -> PageRecord:
        try:
            data = pickle.loads(blob) if blob[:1] == b"\x80" else pickle.loads(zlib.decompress(blob))
            version = data[0]
        except (pickle.UnpicklingError, zlib.error, ValueError, TypeError, EOFError, IndexError):
            version = None
        if version == 1:  # zlib'd pickle of per-word rows (indexes written before 2026-11-21)
            _, canvas_id, label, width, height, words, tokens, token_words = data
            return cls.build(book_id, canvas_index, canvas_id, label, width, height, words, tokens, token_words)
        if version not in (2, 3, _BLOB_VERSION):
            raise StoreError(f"page {book_id}/{canvas_index} was written by another version; index the book again")
        _, canvas_id, label, width, height, texts, boxes, tokens, spans = data[:9]
        alternatives: tuple[str, ...] = ()
        alternative_positions = array("i")
        if version >= 3 and data[9]:  # pages indexed before #21 (version 2) have none
            alternatives = tuple(data[9].split(" "))
            alternative_positions.frombytes(data[10])
        box_array: Sequence[int] = boxes  # a list when some value did not fit 32 bits
        if isinstance(boxes, bytes):
            box_array = array("i")
            box_array.frombytes(boxes)
        span_array = array("i")
        span_array.frombytes(spans)
        image = data[11] if version >= 4 else None  # before #20: not known, the manifest has it
        # Tuples, not lists: the garbage collector stops tracking a tuple of strings, so the
        # thousands of cached pages are not walked at every full collection.
        words = tuple(texts.split(_TEXT_SEPARATOR)) if texts else ()
        return cls(
            book_id,
            canvas_index,
            canvas_id,
            label,
            width,
            height,
            words,
            box_array,
            tuple(tokens.split(" ")) if tokens else (),
            span_array,
            alternatives,
            alternative_positions,
            image,
        )


@dataclass(frozen=True, slots=True)
class BookRecord:
    """One indexed book: what the server needs without opening its pages.

    `first_image` is the painting image of the first canvas that has one, as the
    non-empty fields of an `indexer.model.ImageRef` (`service`, `service_version`,
    `url`, `width`, `height`, `format`, ...): the book's thumbnail in the IIIF
    Collection of every book (#13), which must not decode 10,000 manifests. None for
    books without images and books indexed before it was recorded.
    """

    id: str
    label: str
    manifest_id: str
    version: int
    source: str
    manifest: dict[str, Any] = field(repr=False, compare=False)
    canvas_count: int = 0
    page_count: int = 0  # canvases with text in the index
    word_count: int = 0
    language: str | None = None
    images: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    indexed_at: float = 0.0
    first_image: dict[str, Any] | None = field(default=None, compare=False)

    def manifest_blob(self) -> bytes:
        return zlib.compress(json.dumps(self.manifest, ensure_ascii=False, separators=(",", ":")).encode(), 6)

    def to_blob(self) -> bytes:
        """The record without its manifest (see `manifest_blob`)."""
        data = {
            "id": self.id,
            "label": self.label,
            "manifest_id": self.manifest_id,
            "version": self.version,
            "source": self.source,
            "canvas_count": self.canvas_count,
            "page_count": self.page_count,
            "word_count": self.word_count,
            "language": self.language,
            "images": self.images,
            "indexed_at": self.indexed_at,
            "first_image": self.first_image,
        }
        return zlib.compress(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(), 6)

    @classmethod
    def from_blob(cls, blob: bytes) -> BookRecord:
        """The record as stored; its `manifest` is empty (read it with Snapshot.manifest)."""
        data = json.loads(zlib.decompress(blob))
        data.pop("manifest", None)  # indexes written before the manifest had its own field
        return cls(manifest={}, **data)
