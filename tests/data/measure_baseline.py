"""Build a book's `queries.tsv` from its ground truth, and measure plain Tesseract against it.

The method of tests/data/README.md (table A), written down so the figures can be re-made:

    .venv/bin/python tests/data/measure_baseline.py queries BOOK_DIR [--seed 11]
    .venv/bin/python tests/data/measure_baseline.py baseline BOOK_DIR [--images DIR] [--lang fra]

`queries` writes BOOK_DIR/queries.tsv: 30 single terms (6 or more letters, on at most 3
pages) and 10 two-word phrases (adjacent words of 4 or more letters), drawn at random
with a fixed seed from the ground-truth text (`NNNN.txt`), each with the pages that
contain it. Words hyphenated across a GT line break are joined, and excluded as queries.

`baseline` runs `tesseract IMAGE - -l LANG` (default settings, no preprocessing) on each
page image (in BOOK_DIR, or --images for books whose scans live in sample_books/) and
prints bag-of-words recall and precision, the normalised character error rate, and the
query-page recall without and with line-end hyphens joined.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import subprocess
import unicodedata
from collections import Counter
from pathlib import Path

TERMS, PHRASES = 30, 10
_WORD = re.compile(r"[^\W_]+")
# A line that ends in a hyphen (or the ¬ and ⸗ some transcriptions use) continues on the next.
_LINE_END_HYPHEN = re.compile(r"[-¬⸗]\s*$")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("ſ", "s").lower()


def words(text: str) -> list[str]:
    return _WORD.findall(normalise(text))


def joined_words(lines: list[str]) -> tuple[list[str], set[str]]:
    """The words of a page with line-end hyphens joined, and the words that were joined."""
    out: list[str] = []
    joined: set[str] = set()
    carry = ""
    for line in lines:
        line_words = words(line)
        if carry and line_words:
            line_words[0] = carry + line_words[0]
            joined.add(line_words[0])
        elif carry:
            out.append(carry)
        carry = ""
        if line_words and _LINE_END_HYPHEN.search(line):
            carry = line_words.pop()
        out += line_words
    if carry:
        out.append(carry)
    return out, joined


def gt_pages(book: Path) -> list[list[str]]:
    return [path.read_text(encoding="utf-8").splitlines() for path in sorted(book.glob("[0-9][0-9][0-9][0-9].txt"))]


def make_queries(book: Path, seed: int) -> list[tuple[str, str, list[int]]]:
    pages = [joined_words(lines) for lines in gt_pages(book)]
    excluded = set().union(*(joined for _, joined in pages))
    on_pages: dict[tuple[str, str], set[int]] = {}
    for number, (page_words, _) in enumerate(pages, 1):
        for word in page_words:
            if len(word) >= 6 and word.isalpha() and word not in excluded:
                on_pages.setdefault(("term", word), set()).add(number)
        for first, second in itertools.pairwise(page_words):
            if all(len(w) >= 4 and w.isalpha() and w not in excluded for w in (first, second)):
                on_pages.setdefault(("phrase", f"{first} {second}"), set()).add(number)
    rng = random.Random(seed)
    chosen = []
    for kind, count in (("term", TERMS), ("phrase", PHRASES)):
        candidates = sorted(q for (k, q), found in on_pages.items() if k == kind and len(found) <= 3)
        picked = sorted(rng.sample(candidates, min(count, len(candidates))))
        chosen += [(kind, query, sorted(on_pages[(kind, query)])) for query in picked]
    return chosen


def write_queries(book: Path, seed: int) -> None:
    rows = ["kind\tquery\tpages"]
    rows += [
        f"{kind}\t{query}\t{','.join(f'{p:04d}' for p in pages)}" for kind, query, pages in make_queries(book, seed)
    ]
    (book / "queries.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    print(f"{book / 'queries.tsv'}: {len(rows) - 1} queries")


def read_queries(book: Path) -> list[tuple[str, list[int]]]:
    rows = (book / "queries.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [(query, [int(p) for p in pages.split(",")]) for _kind, query, pages in (row.split("\t") for row in rows)]


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def contains(page_words: list[str], query: list[str]) -> bool:
    return any(page_words[i : i + len(query)] == query for i in range(len(page_words) - len(query) + 1))


def baseline(book: Path, images: Path, lang: str) -> None:
    truth = gt_pages(book)
    scans = sorted(p for p in images.iterdir() if re.fullmatch(r"\d{4}\.(png|jpg|tif)", p.name))
    assert len(scans) == len(truth), f"{len(scans)} images for {len(truth)} GT pages"
    ocr = [
        subprocess.run(["tesseract", str(s), "-", "-l", lang], capture_output=True, text=True, check=True).stdout
        for s in scans
    ]
    # Words are compared with line-end hyphens joined on both sides; the query recall also without.
    gt_words = [joined_words(lines)[0] for lines in truth]
    naive = [words(text) for text in ocr]
    joined = [joined_words(text.splitlines())[0] for text in ocr]
    gt_bag = Counter(w for page in gt_words for w in page)
    ocr_bag = Counter(w for page in joined for w in page)
    common = sum((gt_bag & ocr_bag).values())
    gt_text = " ".join(" ".join(page) for page in gt_words)
    ocr_text = " ".join(" ".join(page) for page in joined)
    pairs = [(words(query), page) for query, pages in read_queries(book) for page in pages]
    found_naive = sum(contains(naive[page - 1], q) for q, page in pairs)
    found_joined = sum(contains(joined[page - 1], q) for q, page in pairs)
    print(f"{book.name}: Tesseract {lang}, {len(scans)} pages")
    print(f"  GT words {sum(gt_bag.values())}; bag-of-words recall {common / sum(gt_bag.values()):.3f}", end="")
    print(f", precision {common / sum(ocr_bag.values()):.3f}")
    print(f"  char error (normalised) {edit_distance(gt_text, ocr_text) / len(gt_text):.3f}")
    print(f"  query-page recall naive / dehyphenated: {found_naive / len(pairs):.3f} / {found_joined / len(pairs):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    queries = sub.add_parser("queries", help="write BOOK_DIR/queries.tsv from the GT text")
    queries.add_argument("book", type=Path)
    queries.add_argument("--seed", type=int, default=11)
    measure = sub.add_parser("baseline", help="OCR the pages with plain Tesseract and score them")
    measure.add_argument("book", type=Path)
    measure.add_argument("--images", type=Path, help="folder of the page images (default: BOOK_DIR)")
    measure.add_argument("--lang", default="eng")
    args = parser.parse_args()
    if args.command == "queries":
        write_queries(args.book, args.seed)
    else:
        baseline(args.book, args.images or args.book, args.lang)


if __name__ == "__main__":
    main()
