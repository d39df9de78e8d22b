"""The format-free OCR model every parser emits: Box, Word, Line, Page.

Frozen dataclasses, no I/O and no XML. In `ocr/` every box is in pixels of the
image that was OCR'd; `indexer/coords.py` is the one place they become canvas units.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle: integers, top-left origin, w and h at least 1.

    >>> Box(10, 20, 30, 40).xywh
    '10,20,30,40'
    """

    x: int
    y: int
    w: int
    h: int

    @classmethod
    def from_corners(cls, x0: float, y0: float, x1: float, y1: float) -> Box:
        """Build from two corners (hOCR `bbox x0 y0 x1 y1`); never zero-sized."""
        left, right = sorted((x0, x1))
        top, bottom = sorted((y0, y1))
        x, y = round(left), round(top)
        return cls(x, y, max(1, round(right) - x), max(1, round(bottom) - y))

    @property
    def xywh(self) -> str:
        """The string for a `#xywh=` media fragment."""
        return f"{self.x},{self.y},{self.w},{self.h}"

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def union(self, other: Box) -> Box:
        """The smallest box holding both."""
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.right, other.right) - x, max(self.bottom, other.bottom) - y)

    def scaled(self, sx: float, sy: float) -> Box:
        """This box with x/w multiplied by sx and y/h by sy, rounded outwards, never empty."""
        return Box.from_corners(self.x * sx, self.y * sy, self.right * sx, self.bottom * sy)

    def clipped(self, width: int, height: int) -> Box | None:
        """This box cut to a width x height area; None when nothing of it is inside."""
        x0, y0 = max(0, self.x), max(0, self.y)
        x1, y1 = min(width, self.right), min(height, self.bottom)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1 - x0, y1 - y0)


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another reading of a printed word, as the OCR engine offered it (#21).

    From hOCR `alternatives` (`<del>`; nlp as 100 * e^-nlp), ALTO `ALTERNATIVE` (no confidence),
    or Tesseract's LSTM choices per character (`ocrx_cinfo`: the confidence of the least sure
    character that differs from the printed word's).
    """

    text: str
    confidence: float | None = None  # 0..100


@dataclass(frozen=True, slots=True)
class Word:
    """One word as printed, with its box.

    `joined` is set on both halves of a word hyphenated across a line end and holds
    the whole word without the hyphen ("inter-" + "national" -> "international"),
    so the index can find it while each half keeps its own box and text.
    `alternatives` are other readings of the same print, surest first (#21).
    """

    text: str
    box: Box
    confidence: float | None = None  # 0..100, as hOCR x_wconf; ALTO WC is scaled to it
    joined: str | None = None
    alternatives: tuple[Alternative, ...] = ()


@dataclass(frozen=True, slots=True)
class Line:
    """Words of one text line, in reading order."""

    words: tuple[Word, ...]
    box: Box
    block: int = 0  # index of the block (column, paragraph area) the line belongs to


@dataclass(frozen=True, slots=True)
class Page:
    """One OCR'd page: its pixel size and its lines in reading order."""

    width: int
    height: int
    lines: tuple[Line, ...]
    format: str  # "hocr" or "alto"
    language: str | None = None

    def words(self) -> list[Word]:
        """Every word of the page in reading order."""
        return [word for line in self.lines for word in line.words]


#: Tesseract's own `lstm_choice_iterations`: what every page cached before #21's setting was OCR'd with.
TESSERACT_CHOICE_ITERATIONS = 5


@dataclass(frozen=True, slots=True)
class OcrSettings:
    """Everything besides the image that decides what Tesseract returns.

    Part of the cache key of a canvas's OCR, so that changing any of them OCRs again. The models
    `lang` names count by their files' digests (`ocr.models`), not by `tessdata_dir`: the same model
    in another folder or on another machine gives the same key, a changed one OCRs again (#14).
    """

    lang: str = "eng"
    psm: int = 3
    oem: int = 1
    timeout: float = 300.0  # seconds per page; not part of the key
    extra: tuple[str, ...] = field(default_factory=tuple)
    tessdata_dir: str | None = None  # where the models are; None: Tesseract's own folder
    # Ask for the LSTM's choices per character (ocr.tesseract.CHOICE_VARIABLES, #21): they add to
    # the hOCR and cost 2-14% more CPU, never change its words, so they are not part of the key.
    choices: bool = True
    # With `choices`: the extra beam-search passes that find them (`lstm_choice_iterations`). Part of
    # the key, since it changes which choices the hOCR holds (docs/search-quality.md, #21), except
    # at Tesseract's default, which every page cached before was OCR'd with. `index-manifest` asks 2
    # (indexer.pipeline.CHOICE_ITERATIONS): as many readings found on the test books, less CPU.
    choice_iterations: int = TESSERACT_CHOICE_ITERATIONS
    # Scale the page so its text lines are about this many pixels tall (ocr/resolution.py, #21);
    # None: OCR the image at the size it comes in. Part of the key: it changes the pixels OCR'd.
    text_height: int | None = None

    def key(self) -> str:
        """A string naming the settings that change Tesseract's output.

        >>> OcrSettings().key(), OcrSettings(text_height=36).key()
        ('lang=eng;psm=3;oem=1;extra=', 'lang=eng;psm=3;oem=1;extra=;text_height=36')
        >>> OcrSettings(choice_iterations=2).key(), OcrSettings(choices=False, choice_iterations=2).key()
        ('lang=eng;psm=3;oem=1;extra=;choice_iterations=2', 'lang=eng;psm=3;oem=1;extra=')
        >>> OcrSettings(choice_iterations=5).key() == OcrSettings().key()
        True
        """
        key = f"lang={self.lang};psm={self.psm};oem={self.oem};extra={' '.join(self.extra)}"
        # Each only when not Tesseract's own, so every page cached before #21's settings keeps its key.
        if self.text_height:
            key += f";text_height={self.text_height}"
        if self.choices and self.choice_iterations != TESSERACT_CHOICE_ITERATIONS:
            key += f";choice_iterations={self.choice_iterations}"
        return key
