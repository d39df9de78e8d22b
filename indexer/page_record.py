"""Turn an OCR Page of a Canvas into the PageRecord the store indexes.

Tokens come from `ocr.text.tokens`, the same function queries go through. A word
hyphenated across a line end becomes the tokens of its joined form, pointing at
both printed halves, so it is found whole and highlighted on both lines.
"""

from __future__ import annotations

from indexer.coords import to_canvas
from indexer.index.records import PageRecord, StoredWord
from indexer.model import Canvas
from ocr.model import Page
from ocr.text import tokens as text_tokens


def page_record(book_id: str, canvas: Canvas, page: Page) -> PageRecord:
    """Words with canvas-unit boxes, and the token stream that indexes them."""
    words: list[StoredWord] = []
    joined: list[str | None] = []
    for line_no, line in enumerate(page.lines):
        for word in line.words:
            box = to_canvas(word.box, page, canvas.width, canvas.height)
            if box is None or not word.text.strip():
                continue  # outside the canvas, or nothing to show: nothing to highlight
            words.append(StoredWord(word.text, box.x, box.y, box.w, box.h, line_no))
            joined.append(word.joined)
    tokens: list[str] = []
    token_words: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        # Both halves of a hyphenated word carry the same `joined`; index it once over both.
        if joined[i] and i + 1 < len(words) and joined[i + 1] == joined[i] and words[i + 1].line != words[i].line:
            span, text = (i, i + 1), joined[i] or ""
            i += 2
        else:
            span, text = (i, i), words[i].text
            i += 1
        for token in text_tokens(text):
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
    )
