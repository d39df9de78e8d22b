"""Join words hyphenated across a line end, for every OCR format.

Both halves keep their own text and box; `Word.joined` on each holds the whole word
("verbun-" + "den" -> "verbunden") so the index can find it. Parsers call this on each
page after reading it; an existing `joined` (ALTO `SUBS_CONTENT`) is never overwritten.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ocr.model import Line, Word

#: Characters that mark a line-end hyphenation: hyphen-minus, soft hyphen (U+00AD),
#: not sign (Fraktur OCR and eScriptorium GT), double oblique hyphen (U+2E17),
#: hyphen (U+2010) and non-breaking hyphen (U+2011).
HYPHENS = frozenset("-\u00ad¬⸗\u2010\u2011")


def is_hyphenated(word: Word) -> bool:
    """True when the word ends in a hyphen mark right after a letter ('verbun-', not '1880-' or '--')."""
    text = word.text
    return len(text) >= 2 and text[-1] in HYPHENS and text[-2].isalpha()


def dehyphenate(lines: Sequence[Line]) -> tuple[Line, ...]:
    """Set `joined` on both halves of every word split across two consecutive lines.

    The next line is the next non-empty line in reading order on the page, also when
    it starts a new block or column. The continuation must start with a letter.

    >>> from ocr.model import Box
    >>> a = Line((Word("verbun-", Box(0, 0, 9, 9)),), Box(0, 0, 9, 9))
    >>> b = Line((Word("den", Box(0, 10, 9, 9)),), Box(0, 10, 9, 9))
    >>> [w.joined for line in dehyphenate([a, b]) for w in line.words]
    ['verbunden', 'verbunden']
    """
    result = list(lines)
    previous: int | None = None  # index of the last line that had words
    for index, line in enumerate(result):
        if not line.words:
            continue
        if previous is not None:
            before = result[previous]
            last, first = before.words[-1], line.words[0]
            if last.joined is None and first.joined is None and is_hyphenated(last) and first.text[0].isalpha():
                # Keep it simple: the tokeniser drops any punctuation left on the second half.
                joined = last.text[:-1] + first.text
                result[previous] = _replace_word(before, -1, dataclasses.replace(last, joined=joined))
                line = _replace_word(line, 0, dataclasses.replace(first, joined=joined))
                result[index] = line
        previous = index
    return tuple(result)


def _replace_word(line: Line, position: int, word: Word) -> Line:
    """The line with one word swapped (lines are frozen)."""
    words = list(line.words)
    words[position] = word
    return dataclasses.replace(line, words=tuple(words))
