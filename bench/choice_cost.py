"""What Tesseract's LSTM choices cost per page, by `lstm_choice_iterations` (#21): CPU, choices, alternatives.

    .venv/bin/python bench/choice_cost.py [--repeats 3] [--pages-per-book N] [--setting SPEC]... [--json]

One process, one warm tesserocr engine per model (the models the books use: `eng`, `deu`, and
`frk+Fraktur` for Kant, the model bench/search_quality.py's `auto` choice gives it), so the
figures hold Tesseract's recognition alone: no process start, no model load. Each page is
recognised once per setting, the settings in a rotated order from page to page, and the whole
set repeated `--repeats` times; a page's CPU (`time.process_time`, this process only: OMP
threads are 1) is the median of its repeats. A setting is `off` (`lstm_choice_mode=0`, no
choices) or `N` (`lstm_choice_mode=2`, `lstm_choice_iterations=N`: N extra beam-search passes,
Tesseract's default 5). Besides the recognition (`SetImageFile` + `GetHOCRText`) it counts our
own `compact_choices` and what the hOCR then gives: the character choice groups kept, the words
with alternatives and the alternatives the default AlternativePolicy indexes; and it checks that
every setting gives the same words and boxes as `off`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["OMP_THREAD_LIMIT"] = "1"  # before libtesseract loads, as the engine process does

from bench.common import REPO, commit, machine
from indexer.page_record import AlternativePolicy
from ocr.engine import _HOCR_FOOT, _HOCR_HEAD
from ocr.hocr import parse
from ocr.tesseract import compact_choices

#: Book folders and their models: the sample books' own language, Kant's Fraktur choice.
BOOKS = {
    "de_bebel_frau_1879": (REPO / "sample_books/de_bebel_frau_1879", "deu"),
    "en_colum_boy_apprenticed_enchanter_1920": (REPO / "sample_books/en_colum_boy_apprenticed_enchanter_1920", "eng"),
    "en_harper_half_hours_with_highwaymen_1908": (
        REPO / "sample_books/en_harper_half_hours_with_highwaymen_1908",
        "eng",
    ),
    "de_kant_aufklaerung_1784_fraktur": (REPO / "tests/data/books/de_kant_aufklaerung_1784_fraktur", "frk+Fraktur"),
}
DEFAULT_SETTINGS = ("off", "1", "2", "3", "5")


def variables(setting: str) -> dict[str, str]:
    """The Tesseract variables of a setting: `off` or a number of iterations.

    >>> variables("off"), variables("2")
    ({'lstm_choice_mode': '0'}, {'lstm_choice_mode': '2', 'lstm_choice_iterations': '2'})
    """
    if setting == "off":
        return {"lstm_choice_mode": "0"}
    return {"lstm_choice_mode": "2", "lstm_choice_iterations": str(int(setting))}


@dataclass
class PageResult:
    """One page under one setting: CPU per repeat and what its hOCR held (the same every repeat)."""

    book: str
    page: str
    setting: str
    recognition: list[float] = field(default_factory=list)  # CPU s of SetImageFile + GetHOCRText
    compact: list[float] = field(default_factory=list)  # CPU s of compact_choices
    choice_groups: int = 0  # characters with a second choice left after compact_choices
    words_with_alternatives: int = 0
    indexed_alternatives: int = 0  # what the default AlternativePolicy keeps
    same_words: bool = True  # the same words and boxes as `off`


def pages(per_book: int | None) -> list[tuple[str, Path, str]]:
    found = []
    for book, (folder, lang) in BOOKS.items():
        images = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
        found += [(book, image, lang) for image in images[:per_book]]
    return found


def measure(per_book: int | None, repeats: int, settings: list[str]) -> list[PageResult]:
    import tesserocr

    tessdata = tesserocr.get_languages()[0].rstrip("/") + "/"
    engines: dict[str, Any] = {}
    policy = AlternativePolicy()
    version = tesserocr.tesseract_version().splitlines()[0].strip()
    selected = pages(per_book)
    results = {(book, image.name, s): PageResult(book, image.name, s) for book, image, _ in selected for s in settings}
    read: dict[tuple[str, str, str], list[tuple[str, str]]] = {}  # each page's words and boxes per setting
    for repeat in range(repeats):
        for number, (book, image, lang) in enumerate(selected):
            if lang not in engines:
                engines[lang] = tesserocr.PyTessBaseAPI(path=tessdata, lang=lang, psm=3, oem=1)
            engine = engines[lang]
            shift = (number + repeat) % len(settings)  # each setting first, middle and last in turn
            for setting in settings[shift:] + settings[:shift]:
                for name, value in variables(setting).items():
                    if not engine.SetVariable(name, value):
                        raise SystemExit(f"Tesseract has no variable {name!r}")
                started = time.process_time()
                engine.SetImageFile(str(image))
                page = engine.GetHOCRText(0)
                engine.Clear()
                recognised = time.process_time()
                hocr = compact_choices((_HOCR_HEAD.format(version=version) + page + _HOCR_FOOT).encode())
                compacted = time.process_time()
                result = results[(book, image.name, setting)]
                result.recognition.append(recognised - started)
                result.compact.append(compacted - recognised)
                if repeat == 0:
                    parsed = parse(hocr)
                    result.choice_groups = hocr.count(b"id='lstm_choices_")
                    with_alternatives = [w for w in parsed.words() if w.alternatives]
                    result.words_with_alternatives = len(with_alternatives)
                    result.indexed_alternatives = sum(len(policy.choose(w)) for w in with_alternatives)
                    read[(book, image.name, setting)] = [(w.text, w.box.xywh) for w in parsed.words()]
            print(f"# repeat {repeat + 1}/{repeats}: {book}/{image.name} done", file=sys.stderr, flush=True)
    for engine in engines.values():
        engine.End()
    for (book, name, setting), result in results.items():
        result.same_words = read[(book, name, setting)] == read[(book, name, settings[0])]
    return list(results.values())


def table(results: list[PageResult], settings: list[str]) -> str:
    """Per setting: CPU per page (mean over pages of each page's median), against `off`, and what it gives."""
    groups = {"sample books": [b for b in BOOKS if "kant" not in b], "Kant": [b for b in BOOKS if "kant" in b]}
    lines = [
        "| pages | setting | recognition CPU s/page | vs off | compact_choices CPU s/page "
        "| choice groups | words with alternatives | indexed alternatives (101/20/3) | same words as off |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for group, books in groups.items():
        base = None
        for setting in settings:
            chosen = [r for r in results if r.book in books and r.setting == setting]
            if not chosen:
                continue
            cpu = statistics.fmean(statistics.median(r.recognition) for r in chosen)
            compact = statistics.fmean(statistics.median(r.compact) for r in chosen)
            if setting == "off":
                base = cpu
            ratio = f"{cpu / base:.3f}" if base else "-"
            name = "off (mode 0)" if setting == "off" else f"mode 2, {setting} iterations"
            lines.append(
                f"| {group} ({len(chosen)}) | {name} | {cpu:.3f} | {ratio} | {compact:.4f} "
                f"| {sum(r.choice_groups for r in chosen)} | {sum(r.words_with_alternatives for r in chosen)} "
                f"| {sum(r.indexed_alternatives for r in chosen)} | {all(r.same_words for r in chosen)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="times each page is recognised per setting")
    parser.add_argument("--pages-per-book", type=int, help="the first N pages of each book (default: all)")
    parser.add_argument(
        "--setting", action="append", dest="settings", help="off or a number of iterations (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print each page's figures as JSON lines too")
    args = parser.parse_args()
    settings = args.settings or list(DEFAULT_SETTINGS)
    if "off" in settings:  # first, so the words of the other settings are compared with its
        settings = ["off", *(s for s in settings if s != "off")]
    print(f"# {machine()}, commit {commit()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", file=sys.stderr)
    print(f"# load average before: {os.getloadavg()}", file=sys.stderr)
    results = measure(args.pages_per_book, args.repeats, settings)
    print(f"# load average after: {os.getloadavg()}", file=sys.stderr)
    if args.json:
        for result in results:
            print(json.dumps(result.__dict__))
    print(table(results, settings))


if __name__ == "__main__":
    main()
