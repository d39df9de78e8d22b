"""Read ALTO (v1-v4, CCS-ALTO; any namespace, prefixed or none) into `Page`s of words with boxes.

`String` elements become words, `TextLine` lines and `TextBlock` blocks, in document order,
which ALTO defines as reading order. Coordinates in `mm10` or `inch1200` are converted to
pixels at `dpi` (see `docs/formats.md` for why the choice of dpi cancels out). `HYP` and
`SUBS_TYPE`/`SUBS_CONTENT` hyphenation is kept; `ocr.dehyphenate` joins the rest.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lxml import etree

from ocr.dehyphenate import dehyphenate
from ocr.errors import MalformedOcr, fatal_note
from ocr.extent import PageExtent
from ocr.model import Alternative, Line, Page, Word

#: Resolution assumed for `mm10` and `inch1200` when converting to pixels.
DEFAULT_DPI = 300.0


def parse(data: bytes, source: str = "", dpi: float = DEFAULT_DPI) -> Page:
    """The first `Page` of an ALTO file; use `parse_pages` for files with several.

    >>> page = parse(b'<alto><Layout><Page WIDTH="100" HEIGHT="50"><PrintSpace><TextBlock>'
    ...              b'<TextLine><String CONTENT="Hello" HPOS="5" VPOS="5" WIDTH="55" HEIGHT="15" WC="0.91"/>'
    ...              b'</TextLine></TextBlock></PrintSpace></Page></Layout></alto>')
    >>> page.width, page.words()[0].text, page.words()[0].box.xywh, page.words()[0].confidence
    (100, 'Hello', '5,5,55,15', 91.0)
    """
    return parse_pages(data, source, dpi)[0]


def parse_pages(data: bytes, source: str = "", dpi: float = DEFAULT_DPI) -> list[Page]:
    """Every `Page` of an ALTO file in document order, empty pages included.

    Boxes and page sizes are in pixels: `pixel` as is, `mm10` times dpi/254, `inch1200`
    times dpi/1200. Raises `MalformedOcr` when the bytes hold no ALTO page or line.
    """
    if not dpi > 0:
        raise ValueError(f"dpi must be positive, not {dpi!r}")
    root, fatal = _parse_tree(data, source)
    scale = _scale(root, source, dpi)
    pages = [_read_page(page, scale) for page in root.iter("{*}Page")]
    if not pages:
        # ALTO fragments (a TextBlock or TextLine without the Layout/Page around it) still read.
        if next(root.iter("{*}TextLine"), None) is None:
            raise MalformedOcr(source, f"no ALTO Page or TextLine elements found{fatal}")
        pages = [_read_page(root, scale)]
    return pages


def _parse_tree(data: bytes, source: str) -> tuple[etree._Element, str]:
    """The lxml tree, and why parsing stopped early if it did; never resolves entities or fetches (XXE-safe)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"ALTO data must be bytes, not {type(data).__name__}")
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        root = etree.fromstring(bytes(data), parser)
    except (etree.LxmlError, ValueError) as error:
        line = getattr(error, "lineno", None)
        raise MalformedOcr(source, f"not parseable as XML: {error}", line) from error
    if root is None:
        raise MalformedOcr(source, "empty document")
    return root, fatal_note(parser.error_log)


def _scale(root: etree._Element, source: str, dpi: float) -> float:
    """Pixels per ALTO unit, from `Description/MeasurementUnit` (absent means pixel)."""
    element = next(root.iter("{*}MeasurementUnit"), None)
    unit = (element.text or "").strip().lower() if element is not None else ""
    if unit in ("", "pixel", "px"):
        return 1.0
    if unit == "mm10":  # tenths of a millimetre: 254 per inch
        return dpi / 254.0
    if unit == "inch1200":
        return dpi / 1200.0
    raise MalformedOcr(source, f"unknown ALTO MeasurementUnit {unit!r}; expected pixel, mm10 or inch1200")


def _number(element: etree._Element, name: str) -> float | None:
    """A numeric attribute (CCS writes `5793.0`), or None when absent or not a finite number."""
    value = element.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if abs(number) < 1e12 else None  # drops NaN, inf and absurd values too


def _corners(element: etree._Element, scale: float) -> tuple[int, int, int, int] | None:
    """HPOS/VPOS/WIDTH/HEIGHT as pixel corners (x0, y0, x1, y1), or None when any is missing or absurd."""
    values = [element.get(name) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT")]
    if None in values:
        return None
    try:
        x, y, w, h = (float(value or "") for value in values)
    except ValueError:
        return None
    if not (abs(x) < 1e12 and abs(y) < 1e12 and abs(w) < 1e12 and abs(h) < 1e12):  # also NaN and inf
        return None
    return round(x * scale), round(y * scale), round((x + w) * scale), round((y + h) * scale)


class _Extent(PageExtent):
    """A page's pixel size: from its WIDTH/HEIGHT when given, else grown to what is on it."""

    __slots__ = ()

    def __init__(self, width: float | None, height: float | None, scale: float) -> None:
        if width is not None and height is not None and width * scale >= 1 and height * scale >= 1:
            super().__init__(round(width * scale), round(height * scale), sized=True)
        else:
            super().__init__(1, 1, sized=False)


def _read_page(page: etree._Element, scale: float) -> Page:
    """One ALTO Page (or a fragment's root) as a Page with its lines in document order."""
    extent = _Extent(_number(page, "WIDTH"), _number(page, "HEIGHT"), scale)
    lines: list[Line] = []
    # (line index, word index, SUBS_TYPE, SUBS_CONTENT) of every hyphenation part, for pairing.
    parts: list[tuple[int, int, str, str]] = []
    block = 0
    for element in page.iter("{*}TextBlock", "{*}TextLine"):
        if element.tag.endswith("TextBlock"):
            block += 1
            continue
        # Per String: [text, corners or None, confidence, SUBS_TYPE, SUBS_CONTENT, alternatives]; a HYP edits the last.
        entries: list[list[Any]] = []
        for child in element:
            tag: object = child.tag  # a function for comments and processing instructions
            if not isinstance(tag, str):
                continue
            local = tag[tag.rfind("}") + 1 :]
            if local == "String":
                text = " ".join((child.get("CONTENT") or "").split())
                if not text:
                    continue
                confidence = _number(child, "WC")
                if confidence is not None:
                    # ALTO WC is 0..1, hOCR x_wconf 0..100; rounding drops float noise (0.55 * 100).
                    confidence = min(max(round(confidence * 100.0, 2), 0.0), 100.0)
                entries.append(
                    [
                        text,
                        _corners(child, scale),
                        confidence,
                        child.get("SUBS_TYPE"),
                        " ".join((child.get("SUBS_CONTENT") or "").split()),
                        _alternatives(child, text),
                    ]
                )
            elif local == "HYP" and entries:
                # ALTO puts the printed hyphen in an element of its own; keep it on the word, as printed.
                entries[-1][0] += child.get("CONTENT") or "-"
        if not entries:
            continue
        line_corners = _corners(element, scale)
        if any(entry[1] is None for entry in entries):
            _share_out(entries, line_corners)
        words: list[Word] = []
        for text, corners, confidence, subs_type, subs_content, alternatives in entries:
            if corners is None:
                continue  # no coordinates of its own and no line box to place it by
            if subs_type in ("HypPart1", "HypPart2"):
                parts.append((len(lines), len(words), subs_type, subs_content))
            words.append(Word(text, extent.fit(*corners), confidence, None, alternatives))
        if not words:
            continue
        if line_corners is not None:
            line_box = extent.fit(*line_corners)
        else:
            line_box = words[0].box
            for word in words[1:]:
                line_box = line_box.union(word.box)
        lines.append(Line(tuple(words), line_box, block))
    if parts:
        lines = _join_parts(lines, parts)
    language = page.get("LANG") or None
    return Page(extent.width, extent.height, dehyphenate(lines), "alto", language)


def _alternatives(string: etree._Element, printed: str) -> tuple[Alternative, ...]:
    """A String's `ALTERNATIVE` children (ALTO 2.0+: other readings of its CONTENT), in document order (#21).

    ALTO gives them no confidence; an ALTERNATIVE equal to the CONTENT adds nothing and is left out.
    """
    found: list[Alternative] = []
    for child in string:
        tag: object = child.tag
        if isinstance(tag, str) and tag.endswith("ALTERNATIVE"):
            text = " ".join("".join(str(part) for part in child.itertext()).split())
            if text and text != printed and all(text != known.text for known in found):
                found.append(Alternative(text))
    return tuple(found)


def _share_out(entries: list[list[Any]], line: tuple[int, int, int, int] | None) -> None:
    """Give Strings without coordinates a slice of the line box in proportion to their characters."""
    if line is None:
        return
    x0, y0, x1, y1 = line
    scale = (x1 - x0) / max(sum(len(entry[0]) for entry in entries) + len(entries) - 1, 1)
    offset = 0
    for entry in entries:
        if entry[1] is None:
            entry[1] = (round(x0 + offset * scale), y0, round(x0 + (offset + len(entry[0])) * scale), y1)
        offset += len(entry[0]) + 1


def _join_parts(lines: list[Line], parts: list[tuple[int, int, str, str]]) -> list[Line]:
    """Set `joined` from SUBS_CONTENT on both halves of each HypPart1/HypPart2 pair.

    Some producers write SUBS_CONTENT on one half only (namespaced_alto2_pixel.xml leaves
    HypPart2's empty), so a pair takes whichever half has it; a lone half uses its own.
    """
    joined: dict[tuple[int, int], str] = {}
    index = 0
    while index < len(parts):
        line_index, word_index, kind, content = parts[index]
        partner = parts[index + 1] if index + 1 < len(parts) else None
        if kind == "HypPart1" and partner is not None and partner[2] == "HypPart2":
            whole = content or partner[3]
            if whole:
                joined[(line_index, word_index)] = joined[(partner[0], partner[1])] = whole
            index += 2
            continue
        if content:
            joined[(line_index, word_index)] = content
        index += 1
    result = list(lines)
    for (line_index, word_index), whole in joined.items():
        line = result[line_index]
        words = list(line.words)
        words[word_index] = dataclasses.replace(words[word_index], joined=whole)
        result[line_index] = dataclasses.replace(line, words=tuple(words))
    return result
