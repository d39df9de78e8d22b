"""Read hOCR (Tesseract 3/4/5, ABBYY, ocropy, Google Books) into `Page`s of words with boxes.

Parses with lxml's forgiving HTML parser, so broken entities and non-XHTML files read too.
Words are `ocrx_word`/`ocr_word` with `bbox` and `x_wconf` in their `title`; lines, blocks and
pages come from the classes in `docs/formats.md`. Boxes are pixels of the OCR'd image.
Line-end hyphenation is left to `ocr.dehyphenate`, which `parse_pages` calls for every page.
"""

from __future__ import annotations

import codecs
import dataclasses
import gc
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager

from lxml import etree

from ocr.dehyphenate import HYPHENS, dehyphenate
from ocr.errors import MalformedOcr, fatal_note
from ocr.extent import PageExtent
from ocr.model import Alternative, Box, Line, Page, Word

# hOCR spec 1.2 §5 (https://kba.github.io/hocr-spec/1.2/): `ocrx_word` is the usual word class;
# `ocr_word` appears in a few converters. §6 lists the line-level typesetting classes.
_WORD_CLASSES = frozenset({"ocrx_word", "ocr_word"})
_LINE_CLASSES = frozenset({"ocr_line", "ocrx_line", "ocr_textfloat", "ocr_caption", "ocr_header"})
# `ocr_block` is not in the spec but the BSB/MDZ converter writes it (bsb10049004_multicolumn.hocr).
_BLOCK_CLASSES = frozenset({"ocr_carea", "ocrx_block", "ocr_block", "ocr_par"})

_OTHER, _PAGE, _BLOCK, _LINE, _WORD = range(1, 6)  # all truthy: `kinds.get(c) or _kind(c)` caches them all
_KINDS: dict[str, int] = {}  # class attribute -> kind; a handful of distinct values per file

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_BBOX = re.compile(rf"\bbbox\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}")
# ABBYY-derived files (Chronicling America) write `x_conf` where the spec says `x_wconf`.
_CONFIDENCE = re.compile(rf"\bx_w?conf\s+{_NUMBER}")
_LANGUAGE = re.compile(r"\bocrp_lang\s+([\w-]+)")
_NLP = re.compile(rf"\bnlp\s+{_NUMBER}")
_CHOICE_CONFIDENCE = re.compile(rf"\bx_confs\s+{_NUMBER}")
#: Readings made from Tesseract's per-character choices, at most, per word (the index keeps fewer).
MAX_ALTERNATIVES = 8
_DECLARED_ENCODING = re.compile(rb"""(?:encoding|charset)\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE)

SOFT_HYPHEN = "\u00ad"


def parse(data: bytes, source: str = "") -> Page:
    """The first page of an hOCR file; use `parse_pages` for a file holding a whole book.

    >>> page = parse(b"<div class='ocr_page' title='bbox 0 0 100 50'><span class='ocr_line' "
    ...              b"title='bbox 5 5 60 20'><span class='ocrx_word' title='bbox 5 5 60 20; x_wconf 91'>"
    ...              b"Hello</span></span></div>")
    >>> page.width, page.words()[0].text, page.words()[0].box.xywh
    (100, 'Hello', '5,5,55,15')
    """
    return parse_pages(data, source)[0]


def parse_pages(data: bytes, source: str = "") -> list[Page]:
    """Every `ocr_page` of an hOCR file in document order, empty pages included.

    Empty pages are kept so that page N of a book-sized file stays canvas N.
    Raises `MalformedOcr` when the bytes hold no hOCR page, line or word at all.
    """
    root, fatal = _parse_tree(data, source)
    reader = _Reader()
    with _gc_paused():
        reader.walk(root, None, 0, None)
        pages = [buffer.build() for buffer in reader.pages]
    if not pages:
        raise MalformedOcr(source, f"no hOCR ocr_page, ocr_line or ocrx_word elements found{fatal}")
    return pages


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a file's words are built.

    A 347-page book makes ~100,000 Word and Box objects that all survive, and the collector
    keeps rescanning them in full collections: on the Google Books file parse_pages took
    ~540 ms of CPU with it running and ~320 ms paused (2-core VM, best of 15). What we build
    holds no reference cycles, so nothing is lost. A collector that was already off stays off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_tree(data: bytes, source: str) -> tuple[etree._Element, str]:
    """The lxml tree, encoding sniffed first (libxml2 would assume Latin-1), and why parsing stopped early if it did.

    The second value is "" or a note like " (line 1: Excessive depth in document: 256 ...)" for error messages.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"hOCR data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    try:
        parser = etree.HTMLParser(
            encoding=_sniff_encoding(data), recover=True, remove_comments=True, remove_pis=True, no_network=True
        )
    except LookupError:  # a declared encoding Python knows but libxml2 does not
        parser = etree.HTMLParser(
            encoding="utf-8", recover=True, remove_comments=True, remove_pis=True, no_network=True
        )
    try:
        root = etree.fromstring(data, parser)
    except (etree.LxmlError, ValueError) as error:
        raise MalformedOcr(source, f"not parseable as HTML: {error}") from error
    if root is None:
        raise MalformedOcr(source, "empty document")
    return root, fatal_note(parser.error_log)


def _sniff_encoding(data: bytes) -> str:
    """The encoding from a BOM, an XML declaration or a meta charset; UTF-8 when none says."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _DECLARED_ENCODING.search(data, 0, 4096)
    if match:
        name = match.group(1).decode("ascii").lower()
        try:
            codecs.lookup(name)
        except LookupError:
            return "utf-8"
        # A UTF-16 declaration in a file without a BOM is a lie we cannot follow byte-wise.
        return "utf-8" if name.startswith("utf-16") else name
    return "utf-8"


def _kind(classes: str) -> int:
    """Which structural level an element's class attribute names."""
    kind = _KINDS.get(classes)
    if kind is None:
        names = set(classes.split())
        if "ocr_page" in names:
            kind = _PAGE
        elif names & _WORD_CLASSES:
            kind = _WORD
        elif names & _LINE_CLASSES:
            kind = _LINE
        elif names & _BLOCK_CLASSES:
            kind = _BLOCK
        else:
            kind = _OTHER
        if len(_KINDS) < 4096:  # class values are few in real files; do not grow without bound
            _KINDS[classes] = kind
    return kind


def _bbox(title: str | None) -> tuple[int, int, int, int] | None:
    """`bbox x0 y0 x1 y1` from a title attribute, rounded to whole pixels."""
    if not title:
        return None
    match = _BBOX.search(title)
    if match is None:
        return None
    x0, y0, x1, y1 = match.groups()
    try:
        # Nearly every file writes integers; int() on them is the fast path.
        return int(x0), int(y0), int(x1), int(y1)
    except ValueError:
        pass
    try:
        return round(float(x0)), round(float(y0)), round(float(x1)), round(float(y1))
    except OverflowError:  # absurd digit strings in a damaged file
        return None


def _text(element: etree._Element) -> str:
    """Text content of an element, skipping `<del>`: hOCR alternatives keep the chosen reading in `<ins>`."""
    parts = [element.text or ""]
    for child in element:
        if isinstance(child.tag, str) and child.tag != "del":
            parts.append(_text(child))
        if child.tail:
            parts.append(child.tail)
    return "".join(parts)


def _word_content(element: etree._Element) -> tuple[str, tuple[Alternative, ...]]:
    """A word element's printed text and its alternative readings (#21).

    hOCR `alternatives` (spec 1.2 §8.1: the reading in `<ins>`, others in `<del>`, `nlp` the
    negative log probability), and Tesseract's `lstm_choice_mode=2` groups, one
    `ocrx_cinfo id='lstm_choices_...'` per character holding its choices, best first, each with
    `x_confs`. Other `ocrx_cinfo` spans (`hocr_char_boxes`) hold the word's own characters.
    """
    parts = [element.text or ""]
    deleted: list[Alternative] = []
    groups: list[list[tuple[str, float]]] = []
    for child in element:
        if isinstance(child.tag, str):
            identifier = child.get("id") or ""
            if identifier.startswith(("lstm_choices", "timestep", "choice_")) or child.get("class") == "ocr_symbol":
                if identifier.startswith("lstm_choices"):
                    groups.append([(choice.text or "", _choice_confidence(choice.get("title"))) for choice in child])
            elif child.tag == "del":
                text = " ".join(_text_all(child).split())
                if text:
                    deleted.append(Alternative(text, _nlp_confidence(child.get("title"))))
            else:
                parts.append(_text(child))
                for nested in child.iter("del"):
                    text = " ".join(_text_all(nested).split())
                    if text:
                        deleted.append(Alternative(text, _nlp_confidence(nested.get("title"))))
        if child.tail:
            parts.append(child.tail)
    text = "".join(parts)
    if groups:
        deleted.extend(lstm_alternatives(" ".join(text.split()), groups))
    return text, tuple(deleted)


def lstm_alternatives(printed: str, groups: list[list[tuple[str, float]]]) -> list[Alternative]:
    """Readings of a word with one or two of its characters replaced by their LSTM second choices.

    `groups` holds each character's choices, best first, as (text, confidence 0..100); groups whose
    best choice is a space (Tesseract's word boundary) are left out. When the rest does not
    spell `printed` character by character, the word has no alternatives (nothing to align).
    A reading's confidence is its replaced character's, or the product of both (as probabilities).

    >>> groups = [[("F", 95)], [("r", 94)], [("a", 95)], [("ß", 90), ("g", 71)], [("z", 91), ("ß", 76)], [("e", 94)]]
    >>> [(a.text, a.confidence) for a in lstm_alternatives("Fraßze", groups)]
    [('Fraßße', 76), ('Fragze', 71), ('Fragße', 53.96)]
    """
    chars = [group for group in groups if group and group[0][0] != " "]
    if len(chars) != len(printed) or any(group[0][0] != letter for group, letter in zip(chars, printed, strict=True)):
        return []
    options = [
        (i, choice, confidence)
        for i, group in enumerate(chars)
        for choice, confidence in group[1:]
        if len(choice) == 1 and choice != " " and choice != group[0][0]
    ]
    found: dict[str, float] = {}
    for n, (i, choice, confidence) in enumerate(options):
        found.setdefault(printed[:i] + choice + printed[i + 1 :], confidence)
        for j, other, other_confidence in options[n + 1 :]:
            if j != i:
                letters = list(printed)
                letters[i], letters[j] = choice, other
                found.setdefault("".join(letters), round(confidence * other_confidence / 100.0, 3))
    ranked = sorted(found.items(), key=lambda item: -item[1])[:MAX_ALTERNATIVES]
    return [Alternative(text, confidence) for text, confidence in ranked]


def _text_all(element: etree._Element) -> str:
    return "".join(str(part) for part in element.itertext())


def _choice_confidence(title: str | None) -> float:
    match = _CHOICE_CONFIDENCE.search(title or "")
    return min(max(float(match.group(1)), 0.0), 100.0) if match else 0.0


def _nlp_confidence(title: str | None) -> float | None:
    match = _NLP.search(title or "")
    if match is None:
        return None
    return round(100.0 * math.exp(-max(float(match.group(1)), 0.0)), 2)


class _PageBuffer(PageExtent):
    """A page being read: its size when the page bbox gives one, else the extent of what is on it."""

    __slots__ = ("blocks", "language", "lines")

    def __init__(self, bbox: tuple[int, int, int, int] | None, language: str | None) -> None:
        # hOCR bboxes are absolute image coordinates, so the page is as large as its far corner.
        if bbox is not None and bbox[2] >= 1 and bbox[3] >= 1:
            super().__init__(bbox[2], bbox[3], sized=True)
        else:
            super().__init__(1, 1, sized=False)
        self.language = language
        self.lines: list[Line | _LineBuffer] = []
        self.blocks = 0

    def build(self) -> Page:
        """The frozen Page, with line-end hyphenation joined."""
        lines: list[Line] = []
        for entry in self.lines:
            # A _LineBuffer holds words found outside any line element, finished only now.
            line = entry.finish(self, None) if isinstance(entry, _LineBuffer) else entry
            if line is not None:
                lines.append(line)
        return Page(self.width, self.height, dehyphenate(lines), "hocr", self.language)


class _LineBuffer:
    """A line being read: its words, plus what is needed to finish it."""

    __slots__ = ("bbox", "block", "boxless", "has_structure", "last_word", "words")

    def __init__(self, bbox: tuple[int, int, int, int] | None, block: int) -> None:
        self.bbox = bbox
        self.block = block
        self.words: list[Word] = []
        self.boxless: list[tuple[int, str, float | None]] = []  # (position, text, confidence)
        self.has_structure = False  # holds word or line elements, so its own text is no words
        self.last_word: etree._Element | None = None

    def finish(self, page: _PageBuffer, element: etree._Element | None) -> Line | None:
        """The Line, or None when it holds no words."""
        words = self.words
        if self.boxless or (not words and not self.has_structure and element is not None):
            words = self._share_out(page, element)
        if not words:
            return None
        tail = self.last_word.tail if self.last_word is not None else None
        if tail and SOFT_HYPHEN in tail and words[-1].text[-1] not in HYPHENS:
            # Google Books and BSB write the line-end soft hyphen after the last word span, not in it.
            words[-1] = dataclasses.replace(words[-1], text=words[-1].text + SOFT_HYPHEN)
        if self.bbox is not None:
            box = page.fit(*self.bbox)
        else:
            box = words[0].box
            for word in words[1:]:
                box = box.union(word.box)
        return Line(tuple(words), box, self.block)

    def _share_out(self, page: _PageBuffer, element: etree._Element | None) -> list[Word]:
        """Give box-less words a slice of the line box in proportion to their characters.

        ocropy writes `ocr_line` with bare text and no word elements: each whitespace token
        becomes a word. Without a line bbox there is nothing to share, and those words are lost.
        """
        entries: list[tuple[str, Word | None, float | None]] = [(word.text, word, None) for word in self.words]
        for position, text, confidence in self.boxless:
            entries.insert(position, (text, None, confidence))
        if not entries and element is not None:
            entries = [(token, None, None) for token in _text(element).split()]
        if self.bbox is None:
            return [word for _, word, _ in entries if word is not None]
        x0, y0, x1, y1 = self.bbox
        scale = (x1 - x0) / max(sum(len(text) for text, _, _ in entries) + len(entries) - 1, 1)
        words = []
        offset = 0
        for text, word, confidence in entries:
            if word is None:
                left = round(x0 + offset * scale)
                word = Word(text, page.fit(left, y0, round(x0 + (offset + len(text)) * scale), y1), confidence)
            words.append(word)
            offset += len(text) + 1
        return words


class _Reader:
    """One pass over the tree, collecting pages, lines and words by their classes."""

    def __init__(self) -> None:
        self.pages: list[_PageBuffer] = []
        self._loose: _PageBuffer | None = None  # for content outside any ocr_page

    def _implicit_page(self) -> _PageBuffer:
        if self._loose is None:
            self._loose = _PageBuffer(None, None)
            self.pages.append(self._loose)
        return self._loose

    def walk(self, parent: etree._Element, page: _PageBuffer | None, block: int, line: _LineBuffer | None) -> None:
        """Read the children of `parent` within the given page, block and line.

        This loop runs once per element of the file (60,000 in a 347-page book), so the
        word case is written out inline rather than spread over small helpers.
        """
        kinds = _KINDS
        loose: _LineBuffer | None = None  # words found here outside any line element
        for child in parent:
            classes = child.get("class")
            kind = (kinds.get(classes) or _kind(classes)) if classes else _OTHER
            if kind == _WORD:
                target = line
                if target is None:
                    if loose is None:
                        if page is None:
                            page = self._implicit_page()
                        loose = _LineBuffer(None, block)
                        page.lines.append(loose)
                    target = loose
                target.has_structure = True
                alternatives: tuple[Alternative, ...] = ()
                if len(child):
                    text, alternatives = _word_content(child)
                else:
                    text = child.text or ""
                if not text:
                    continue
                pieces = text.split()
                text = pieces[0] if len(pieces) == 1 else " ".join(pieces)
                if SOFT_HYPHEN in text:
                    text = _clean_soft_hyphens(text)
                if not text:
                    continue
                title = child.get("title")
                confidence = None
                corners = None
                if title is not None:
                    # The usual `bbox x0 y0 x1 y1; ...`: split is faster than the regex, and this runs per word.
                    parts = title.split(None, 5)
                    if len(parts) >= 5 and parts[0] == "bbox":
                        # Not contextlib.suppress: it costs as much as the rest of this block.
                        try:  # noqa: SIM105
                            corners = int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4].partition(";")[0])
                        except ValueError:
                            pass  # decimals or junk: the regex below decides
                    if corners is None:
                        corners = _bbox(title)
                    if "conf" in title:
                        match = _CONFIDENCE.search(title)
                        if match:
                            confidence = min(max(float(match.group(1)), 0.0), 100.0)
                target.last_word = child
                if corners is None:
                    target.boxless.append((len(target.words), text, confidence))
                    continue
                x0, y0, x1, y1 = corners
                assert page is not None
                if 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height:
                    box = Box(x0, y0, x1 - x0, y1 - y0)  # the usual case, kept cheap
                else:
                    box = page.fit(x0, y0, x1, y1)
                target.words.append(Word(text, box, confidence, None, alternatives))
            elif kind == _OTHER:
                self.walk(child, page, block, line)
            elif kind == _LINE:
                if line is not None:
                    line.has_structure = True
                if page is None:
                    page = self._implicit_page()
                loose = None
                inner = _LineBuffer(_bbox(child.get("title")), block)
                self.walk(child, page, block, inner)
                built = inner.finish(page, child)
                if built is not None:
                    page.lines.append(built)
            elif kind == _BLOCK:
                if page is None:
                    page = self._implicit_page()
                loose = None
                page.blocks += 1
                self.walk(child, page, page.blocks, line)
            else:  # _PAGE
                loose = None
                buffer = _PageBuffer(_bbox(child.get("title")), _page_language(child))
                self.pages.append(buffer)
                self.walk(child, buffer, 0, None)


def _clean_soft_hyphens(text: str) -> str:
    """Soft hyphens dropped inside a word and kept at its end, where they mark a line-end break."""
    trailing = text.endswith(SOFT_HYPHEN)
    text = text.replace(SOFT_HYPHEN, "").strip()
    return text + SOFT_HYPHEN if trailing and text else text


def _page_language(element: etree._Element) -> str | None:
    """The page's language from its `lang` attribute or `ocrp_lang` property, if it names one."""
    language: str | None = element.get("lang")
    if not language:
        match = _LANGUAGE.search(element.get("title") or "")
        language = match.group(1) if match else None
    if not language or language.lower() == "unknown":
        return None
    return language
