"""Turn an OCR Page of a Canvas into the PageRecord the store indexes.

Tokens come from `ocr.text.tokens`, the same function queries go through. A word
hyphenated across a line end becomes the tokens of its joined form, pointing at
both printed halves, so it is found whole and highlighted on both lines. The
plausible alternative readings of a low-confidence word (#21) become tokens at
the position of the printed word's, chosen by an `AlternativePolicy`, and so do the
spellings of its umlauts written out (`schädlich` also as `schaedlich`).
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.coords import to_canvas
from indexer.index.common_words import is_common
from indexer.index.records import PageRecord, StoredWord
from indexer.model import Canvas
from ocr.dehyphenate import HYPHENS
from ocr.model import Page, Word
from ocr.text import tokens as text_tokens
from ocr.text import umlauts_written_out


@dataclass(frozen=True, slots=True)
class AlternativePolicy:
    """Which alternative readings are indexed (#21): measured on the test books, docs/search-quality.md.

    A word's alternatives are indexed when its own confidence is below `below` (or unknown),
    those of `threshold` or more (or of unknown confidence: a file's own ALTERNATIVE), at most
    `per_word`, surest first. Alternatives that are common words (`common_words.py`) are
    never indexed: their pairs are counted from a field that holds only printed tokens.
    With `write_out_umlauts`, a word with ä, ö or ü (as printed, or in a chosen alternative) is
    also indexed spelled with ae, oe, ue: how 18th-century print and its transcriptions write
    them, and how readers type them without the keys. Only words that hold an umlaut get one,
    so English `poet` and `does` are not folded into `pot` and `dos`, as a folding of every
    `oe` (Solr's GermanNormalizationFilter) would do.
    """

    # The most generous policy measured that adds no extra page on the test books (it finds
    # Kant's gedankenlosen, Bebel's abschafft): docs/search-quality.md, #21. Confidences of 20 or
    # more only come with uncertain characters, so every word's alternatives are looked at.
    below: float = 101.0
    threshold: float = 20.0
    per_word: int = 3
    write_out_umlauts: bool = True

    def choose(self, word: Word) -> list[str]:
        """The texts of `word`'s alternatives to index.

        >>> from ocr.model import Alternative, Box
        >>> word = Word("Frciheit", Box(0, 0, 9, 9), 40.0, None, (Alternative("Freiheit", 80), Alternative("Frclheit", 20)))
        >>> AlternativePolicy().choose(word), AlternativePolicy(below=30).choose(word)
        (['Freiheit', 'Frclheit'], [])
        >>> AlternativePolicy(threshold=50).choose(word)
        ['Freiheit']
        """
        if self.per_word <= 0 or not word.alternatives:
            return []
        if word.confidence is not None and word.confidence >= self.below:
            return []
        kept = [a.text for a in word.alternatives if a.confidence is None or a.confidence >= self.threshold]
        return kept[: self.per_word]


#: No alternatives indexed: the index before #21.
NO_ALTERNATIVES = AlternativePolicy(per_word=0, write_out_umlauts=False)


def page_record(book_id: str, canvas: Canvas, page: Page, policy: AlternativePolicy | None = None) -> PageRecord:
    """Words with canvas-unit boxes, the token stream that indexes them, and the chosen alternatives' tokens."""
    policy = policy or AlternativePolicy()
    words: list[StoredWord] = []
    sources: list[Word] = []
    for line_no, line in enumerate(page.lines):
        for word in line.words:
            box = to_canvas(word.box, page, canvas.width, canvas.height)
            if box is None or not word.text.strip():
                continue  # outside the canvas, or nothing to show: nothing to highlight
            words.append(StoredWord(word.text, box.x, box.y, box.w, box.h, line_no))
            sources.append(word)
    tokens: list[str] = []
    token_words: list[tuple[int, int]] = []
    alternatives: list[tuple[str, int]] = []
    i = 0
    while i < len(words):
        # Both halves of a hyphenated word carry the same `joined`; index it once over both.
        joined = sources[i].joined
        if joined and i + 1 < len(words) and sources[i + 1].joined == joined and words[i + 1].line != words[i].line:
            span, text = (i, i + 1), joined
            readings = _joined_readings(sources[i], sources[i + 1], policy)
            i += 2
        else:
            span, text = (i, i), words[i].text
            readings = policy.choose(sources[i])
            i += 1
        if policy.write_out_umlauts:
            readings += [w for w in map(umlauts_written_out, [text, *readings]) if w is not None]
        printed = text_tokens(text)
        for reading in readings:
            other = text_tokens(reading)
            if len(other) != len(printed):
                continue  # split otherwise: no position to put it at
            for offset, (mine, theirs) in enumerate(zip(printed, other, strict=True)):
                if theirs != mine and not is_common(theirs):
                    alternatives.append((theirs, len(tokens) + offset))
        for token in printed:
            tokens.append(token)
            token_words.append(span)
    return PageRecord.build(
        book_id=book_id,
        canvas_index=canvas.index,
        canvas_id=canvas.id,
        label=canvas.label,
        width=canvas.width,
        height=canvas.height,
        words=tuple(words),
        tokens=tuple(tokens),
        token_words=tuple(token_words),
        alternatives=alternatives,
        # What a collection answer's line pictures need, kept with the page (#20): `{}` for none.
        image=canvas.image.service_fields() if canvas.image is not None else {},
    )


def _joined_readings(first: Word, second: Word, policy: AlternativePolicy) -> list[str]:
    """Readings of a hyphenated word from either half's alternatives (the other half as printed)."""
    joined = first.joined or ""
    if not first.text or first.text[-1] not in HYPHENS or joined != first.text[:-1] + second.text:
        return []
    readings = [a[:-1] + second.text for a in policy.choose(first) if a and a[-1] in HYPHENS]
    readings += [first.text[:-1] + a for a in policy.choose(second)]
    return readings
