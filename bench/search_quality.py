"""Search quality per book and OCR model choice: query-page recall and extra pages, through the search API.

    .venv/bin/python bench/search_quality.py [--book DIR]... [--lang CHOICE]... [--mode MODE]... [--cache DIR] [--json]

Each book folder holds page images (or its scans are in sample_books/<same name>), the
ground-truth text of each page (`0001.txt`, ...) and `queries.tsv` (30 terms and 10 two-word
phrases with the pages whose GT holds them; see tests/data/README.md). Default books: every
folder of tests/data/books and sample_books with a queries.tsv.

Each CHOICE indexes every book with `index-manifest`'s pipeline into a fresh data directory,
then asks `/iiif/{book}/search/2` each query, as a reader's viewer would:

- query-page recall: the share of (query, page) pairs of queries.tsv whose page is returned
  (phrases asked in quotes, so as exact sequences, like the shared data's baseline);
- extra pages: pages returned for a query whose GT does not hold it;
- word-page recall: the same over every word of six or more letters in the GT (hundreds per
  book rather than 40, so small differences between models show), with its extra pages;
- absent words: up to 200 words of six or more letters from the other books' GT that this
  book's GT does not hold (a reader asking for what is not there): how many are answered
  with hits at all, and on how many pages (every one an extra page).

CHOICE is `language` (the book's own language model: the choice before #14), `auto` (the
default choice since #14: language and script), or any --lang value (`frk`, `deu+Fraktur`).
Default: language and auto. The OCR cache is shared by all runs (`--cache` keeps it between
invocations), so a model is OCR'd once per page.

Each MODE asks every query of an indexed book a way a reader may (#14): `exact` (as written,
the server's fuzzy fallback off), `fuzzy` (every word of the query with `~`, phrases too:
`"oeffentliche~ gebrauch~"`; fallback off) and `fallback` (as written, with the server retrying
a search that finds nothing as `word~`). Default: exact only.

Each `--alternatives BELOW/THRESHOLD/K` indexes the books again (from the OCR cache) with that
policy for the alternative readings of #21 (indexer/page_record.AlternativePolicy: words of
confidence below BELOW, alternatives of THRESHOLD or more, at most K per word, and umlauts
written out, `schaedlich` for `schädlich`, unless `/printed-umlauts` follows), `umlauts` (only
those), or `none` (neither: the index before #21). Default: the policy's defaults only.

Each `--choice-iterations N` OCRs the books again with Tesseract's `lstm_choice_iterations=N`
(the extra beam-search passes that find the LSTM's choices, #21; default: `index-manifest`'s), each
under its own OCR cache key (`OcrSettings.choice_iterations`).

Each `--text-height N` indexes the books again with pages scaled so their text lines are about N
pixels tall before OCR (ocr/resolution.py, #21; 0: at the size they come in, the default): the
table's `OCR seconds` is the pipeline's wall time for the book (0 when the cache answered).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.common import REPO, commit, machine
from indexer.page_record import NO_ALTERNATIVES, AlternativePolicy
from indexer.pipeline import IndexOptions, index
from indexer.sources import read_folder
from ocr.text import tokens
from search_service.settings import Settings
from search_service.web.app import create_app

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
MIN_WORD = 6  # letters of a GT word counted by word-page recall, like the terms of queries.tsv


MODES = ("exact", "fuzzy", "fallback")


def as_fuzzy(query: str) -> str:
    """Every word of a query with `~`, inside quotes too: `"a b"` -> `"a~ b~"`.

    >>> as_fuzzy('"oeffentliche gebrauch"'), as_fuzzy("naemlich")
    ('"oeffentliche~ gebrauch~"', 'naemlich~')
    """
    return re.sub(r'[^\s"]+', lambda word: word.group(0) + "~", query)


@dataclass
class Quality:
    book: str
    choice: str
    mode: str
    lang: str  # the models the pipeline used
    query_pairs: int
    query_found: int
    query_extra: int
    word_pairs: int
    word_found: int
    word_extra: int
    absent_asked: int
    absent_answered: int
    absent_pages: int
    ocr_seconds: float  # the pipeline's time for the book (0 when every page came from the cache)
    alternatives: str = "none"  # the AlternativePolicy, as parse_policy reads it
    alternative_tokens: int = 0  # alternative tokens indexed in the book
    text_height: int = 0  # pages scaled to lines this many pixels tall before OCR (#21); 0: as they come
    choice_iterations: int = 5  # Tesseract's lstm_choice_iterations for the choices (#21)

    @property
    def query_recall(self) -> float:
        return self.query_found / self.query_pairs if self.query_pairs else 0.0

    @property
    def word_recall(self) -> float:
        return self.word_found / self.word_pairs if self.word_pairs else 0.0


def default_books() -> list[Path]:
    folders = [*sorted((REPO / "tests/data/books").glob("*")), *sorted((REPO / "sample_books").glob("*"))]
    books: dict[str, Path] = {}
    for folder in folders:
        if (folder / "queries.tsv").is_file():
            books.setdefault(folder.name, folder)
    return list(books.values())


def scans_of(book: Path) -> Path:
    """The folder of a book's page images: the book folder itself, else sample_books/<name>."""
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in book.iterdir()):
        return book
    return REPO / "sample_books" / book.name


def read_queries(book: Path) -> list[tuple[str, set[int]]]:
    """queries.tsv's (query, pages); none when the book has only its GT text (word-page recall only)."""
    rows: list[tuple[str, set[int]]] = []
    if not (book / "queries.tsv").is_file():
        return rows
    for line in (book / "queries.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        kind, query, pages = line.split("\t")
        # A phrase is asked quoted: unquoted, two words match any page holding both.
        rows.append((f'"{query}"' if kind == "phrase" else query, {int(page) - 1 for page in pages.split(",")}))
    return rows


def gt_words(book: Path) -> dict[str, set[int]]:
    """Every GT word of MIN_WORD or more letters -> the pages holding it; line-end hyphens joined."""
    pages: dict[str, set[int]] = {}
    texts = sorted(book.glob("[0-9][0-9][0-9][0-9].txt"))
    for page, text in enumerate(texts):
        joined = re.sub(r"[-¬⸗]\s*\n\s*", "", text.read_text(encoding="utf-8"))
        for token in tokens(joined):
            if len(token) >= MIN_WORD and token.isalpha():
                pages.setdefault(token, set()).add(page)
    return pages


def absent_words(book: Path, books: list[Path], count: int = 200) -> list[tuple[str, set[int]]]:
    """Up to `count` GT words of the other books that this book's GT does not hold, each with no page."""
    here = set(gt_words(book)) | {t for text in book.glob("[0-9][0-9][0-9][0-9].txt") for t in tokens(text.read_text())}
    others = sorted({word for other in books if other != book for word in gt_words(other)} - here)
    step = max(1, len(others) // count)
    return [(word, set()) for word in others[::step][:count]]


def book_language(scans: Path) -> str:
    return read_folder(scans).language or "eng"


async def pages_found(client: httpx.AsyncClient, book: str, query: str) -> set[int]:
    """Canvas indexes of every hit of a Search 2.0 query, all result pages followed."""
    found: set[int] = set()
    url: str | None = f"/iiif/{book}/search/2"
    params: dict[str, str] | None = {"q": query}
    while url is not None:
        response = await client.get(url, params=params)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        for item in body["items"]:
            match = re.search(r"/canvas/p(\d+)", json.dumps(item["target"]))
            if match:
                found.add(int(match.group(1)) - 1)
        url, params = body.get("next", {}).get("id"), None
    return found


async def measure(
    data_dir: Path, book_id: str, queries: list[tuple[str, set[int]]], mode: str = "exact", answered: bool = False
) -> tuple[int, int, int]:
    """(pairs, pairs found, extra pages) of these queries over the indexed book, asked as `mode` says.

    With `answered`, the second number is instead the queries that got any hit.
    """
    pairs = found = extra = 0
    app = create_app(Settings(data_dir=data_dir, response_cache_mb=0, fuzzy_fallback=mode == "fallback"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        for query, pages in queries:
            returned = await pages_found(client, book_id, as_fuzzy(query) if mode == "fuzzy" else query)
            pairs += len(pages)
            found += bool(returned) if answered else len(pages & returned)
            extra += len(returned - pages)
    return pairs, found, extra


def parse_policy(spec: str) -> AlternativePolicy:
    """`none`, `umlauts` (only the umlauts written out), or BELOW/THRESHOLD/K, which writes them out
    too unless followed by `/printed-umlauts`.

    >>> parse_policy("95/50/2"), parse_policy("none") == NO_ALTERNATIVES
    (AlternativePolicy(below=95.0, threshold=50.0, per_word=2, write_out_umlauts=True), True)
    >>> policy_name(parse_policy("101/20/3/printed-umlauts")), policy_name(parse_policy("umlauts"))
    ('101/20/3/printed-umlauts', 'umlauts')
    """
    if spec == "none":
        return NO_ALTERNATIVES
    if spec == "umlauts":
        return AlternativePolicy(per_word=0, write_out_umlauts=True)
    below, threshold, per_word, *rest = spec.split("/")
    if rest not in ([], ["printed-umlauts"]):
        raise ValueError(f"not a policy: {spec!r}")
    return AlternativePolicy(float(below), float(threshold), int(per_word), write_out_umlauts=not rest)


def policy_name(policy: AlternativePolicy) -> str:
    if policy.per_word <= 0:
        return "umlauts" if policy.write_out_umlauts else "none"
    name = f"{policy.below:g}/{policy.threshold:g}/{policy.per_word}"
    return name if policy.write_out_umlauts else name + "/printed-umlauts"


def run(
    book: Path,
    choice: str,
    modes: list[str],
    books: list[Path],
    work: Path,
    cache: Path,
    workers: int,
    policy: AlternativePolicy | None = None,
    text_height: int = 0,
    choice_iterations: int | None = None,
) -> list[Quality]:
    scans = scans_of(book)
    lang = {"auto": None, "language": book_language(scans)}.get(choice, choice)
    data_dir = Path(tempfile.mkdtemp(dir=work, prefix=f"{book.name}-"))
    (data_dir / "ocr-cache").symlink_to(cache, target_is_directory=True)
    started = time.perf_counter()
    policy = policy or AlternativePolicy()
    options = IndexOptions(
        data_dir=data_dir,
        lang=lang,
        workers=workers,
        book_id=book.name,
        alternatives=policy,
        text_height=text_height or None,
        **({} if choice_iterations is None else {"choice_iterations": choice_iterations}),
    )
    [report] = index([str(scans)], options)
    seconds = time.perf_counter() - started if report.ocr else 0.0
    if not report.ok:
        raise SystemExit(f"{book.name} ({choice}): {report.to_json()}")
    results = []
    for mode in modes:
        query = asyncio.run(measure(data_dir, book.name, read_queries(book), mode))
        word = asyncio.run(measure(data_dir, book.name, sorted(gt_words(book).items()), mode))
        absent = absent_words(book, books)
        _, answered, pages = asyncio.run(measure(data_dir, book.name, absent, mode, answered=True))
        results.append(
            Quality(
                book.name,
                choice,
                mode,
                report.lang,
                *query,
                *word,
                len(absent),
                answered,
                pages,
                round(seconds, 1),
                policy_name(policy),
                alternative_tokens(data_dir),
                text_height,
                options.choice_iterations,
            )
        )
    return results


def alternative_tokens(data_dir: Path) -> int:
    from indexer.index.store import Store

    snapshot = Store(data_dir).snapshot()
    return sum(len(snapshot.page(doc).alternatives) for book in snapshot.books() for doc in snapshot.docs_of(book.id))


def table(results: list[Quality]) -> str:
    lines = [
        "| book | choice | models | choice iterations | alternatives | text height | search | query-page recall "
        "| extra pages | word-page recall | extra pages | absent words answered | their pages | OCR seconds |",
        "|---|---|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        query = (
            f"{r.query_recall:.3f} ({r.query_found}/{r.query_pairs}) | {r.query_extra}" if r.query_pairs else "- | -"
        )
        lines.append(
            f"| {r.book} | {r.choice} | `{r.lang}` | {r.choice_iterations} "
            f"| {r.alternatives} ({r.alternative_tokens}) "
            f"| {r.text_height or 'as given'} | {r.mode} | {query} "
            f"| {r.word_recall:.3f} ({r.word_found}/{r.word_pairs}) | {r.word_extra} "
            f"| {r.absent_answered}/{r.absent_asked} | {r.absent_pages} | {r.ocr_seconds:g} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", action="append", type=Path, help="a book folder (repeatable); default: see above")
    parser.add_argument("--lang", action="append", dest="choices", help="a model choice (repeatable)")
    parser.add_argument(
        "--mode", action="append", dest="modes", choices=MODES, help="how queries are asked (repeatable)"
    )
    parser.add_argument(
        "--alternatives",
        action="append",
        dest="policies",
        help="BELOW/THRESHOLD/K[/printed-umlauts], umlauts or none (repeatable)",
    )
    parser.add_argument(
        "--text-height",
        action="append",
        type=int,
        dest="text_heights",
        help="pages scaled so their lines are N px tall before OCR, 0: as they come (repeatable; default 0)",
    )
    parser.add_argument(
        "--choice-iterations",
        action="append",
        type=int,
        dest="choice_iterations",
        help="Tesseract's lstm_choice_iterations for the alternatives, 0 or more (repeatable; default: "
        "index-manifest's); each OCRs the books again, under its own cache key",
    )
    parser.add_argument("--cache", type=Path, help="OCR cache folder kept between runs (default: a temporary one)")
    parser.add_argument("--workers", type=int, default=2, help="Tesseract processes (default 2)")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    args = parser.parse_args()
    books = args.book or default_books()
    choices = args.choices or ["language", "auto"]
    modes = args.modes or ["exact"]
    print(f"# {machine()}, commit {commit()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="search-quality-") as temporary:
        work = Path(temporary)
        cache = args.cache or work / "ocr-cache"
        cache.mkdir(parents=True, exist_ok=True)
        policies = [parse_policy(spec) for spec in args.policies] if args.policies else [AlternativePolicy()]
        for book in books:
            for choice in choices:
                for result in (
                    result
                    for policy in policies
                    for text_height in args.text_heights or [0]
                    for iterations in args.choice_iterations or [None]
                    for result in run(
                        book,
                        choice,
                        modes,
                        books,
                        work,
                        cache.resolve(),
                        args.workers,
                        policy,
                        text_height,
                        iterations,
                    )
                ):
                    results.append(result)
                    if args.json:
                        print(json.dumps({**asdict(result), "query_recall": result.query_recall}), flush=True)
                    else:
                        print(table([result]).splitlines()[-1], file=sys.stderr, flush=True)
    if not args.json:
        print(table(results))


if __name__ == "__main__":
    main()
