"""index-manifest: options in, one pipeline call, a summary and an exit status out.

Progress goes to stderr (a bar on a terminal, plain lines otherwise); the summary
goes to stdout, as one JSON object with --json. Exit 0 when everything was
indexed, 1 when something failed (the summary names it), 2 for usage errors,
130 when interrupted.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from indexer.errors import IndexerError
from indexer.model import Book
from indexer.page_record import NO_ALTERNATIVES, AlternativePolicy
from indexer.paths import ACCESS_LEVELS, DEFAULT_DATA_DIR
from indexer.pipeline import CHOICE_ITERATIONS, BookReport, CanvasOutcome, IndexOptions, Progress, index


class TerminalProgress(Progress):
    """A tqdm bar per book on a terminal; log lines with pages/s and ETA otherwise."""

    def __init__(self, stream: Any = None, bar: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.bar_enabled = self.stream.isatty() if bar is None else bar
        self._bar: Any = None
        self._total = 0
        self._done = 0
        self._started = 0.0
        self._last_line = 0.0
        self._book = ""
        self._workers: int | None = None  # Dask workers, with --cluster

    def book_started(self, book: Book, total: int) -> None:
        self._book, self._total, self._done = book.id, total, 0
        self._started = self._last_line = time.monotonic()
        if self.bar_enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=book.id[:40], unit="page", file=self.stream, dynamic_ncols=True)
        else:
            self._line(f"{book.id}: {total} canvases ({book.label})")

    def canvas_done(self, outcome: CanvasOutcome) -> None:
        self._done += 1
        if outcome.error:
            message = f"{self._book}: canvas {outcome.index + 1} ({outcome.label}) failed: {outcome.error}"
            if self._bar is not None:
                self._bar.write(message, file=self.stream)
            else:
                self._line(message)
        if self._bar is not None:
            self._bar.update(1)
            return
        now = time.monotonic()
        # Every page for small books, every 2 seconds for big ones, so logs stay readable.
        if self._total <= 50 or now - self._last_line >= 2 or self._done == self._total:
            elapsed = max(now - self._started, 1e-6)
            rate = self._done / elapsed
            eta = (self._total - self._done) / rate if rate else 0
            where = f" on {_workers(self._workers)}" if self._workers is not None else ""
            self._line(f"{self._book}: {self._done}/{self._total} pages, {rate:.2f} pages/s{where}, ETA {eta:.0f}s")
            self._last_line = now

    def workers_changed(self, workers: int) -> None:
        self._workers = workers
        if self._bar is not None:
            self._bar.set_postfix_str(_workers(workers))

    def book_finished(self, report: BookReport) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def summary_text(reports: list[BookReport], seconds: float, cluster: str | None = None) -> str:
    lines = []
    for r in reports:
        if r.error and not r.committed:
            lines.append(f"FAILED  {r.id or r.source}: {r.error}")
        else:
            status = "ok     " if r.ok else "PARTIAL"
            lines.append(
                f"{status} {r.id}: {r.canvases} canvases: {r.ocr} OCR'd, {r.cached} from cache, "
                f"{r.existing} from existing OCR, {len(r.failed)} failed"
                + (f" ({r.kept} kept from the previous index)" if r.kept else "")
                + f"; {r.words} words in {r.seconds:.1f}s"
                + (f"; lang {r.lang} ({r.lang_reason})" if r.lang else "")
            )
        # Also when nothing was written: "no canvas could be read" alone does not say why.
        for failure in r.failed:
            lines.append(f"        canvas {int(str(failure['canvas'])) + 1} ({failure['label']}): {failure['reason']}")
    total_pages = sum(r.ocr + r.cached + r.existing for r in reports)
    where = f" with the Dask cluster at {cluster} ({_workers(_cluster_workers(reports))})" if cluster else ""
    lines.append(f"{len(reports)} book(s), {total_pages} pages indexed in {seconds:.1f}s{where}")
    return "\n".join(lines)


def _workers(count: int) -> str:
    return f"{count} worker" if count == 1 else f"{count} workers"


def _cluster_workers(reports: list[BookReport]) -> int:
    return max((r.workers for r in reports), default=0)


def summary_json(reports: list[BookReport], seconds: float, cluster: str | None = None) -> dict[str, object]:
    return {
        "books": [r.to_json() for r in reports],
        "canvases": sum(r.canvases for r in reports),
        "ocr": sum(r.ocr for r in reports),
        "cached": sum(r.cached for r in reports),
        "existing": sum(r.existing for r in reports),
        "failed": sum(len(r.failed) for r in reports) + sum(1 for r in reports if r.error),
        "words": sum(r.words for r in reports),
        "seconds": round(seconds, 3),
        "ok": all(r.ok for r in reports),
        "cluster": {"scheduler": cluster, "workers": _cluster_workers(reports)} if cluster else None,
    }


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("sources", nargs=-1, required=True)
@click.option("--id", "book_id", help="Book id for the URLs (one book only); default: a slug of the source.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="IIIF_SEARCH_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default="$IIIF_SEARCH_DATA_DIR or ./data",
    help="Where the index and the OCR cache live.",
)
@click.option(
    "--shards",
    metavar="DIR1,DIR2,...",
    help="Split the collection over these shard data directories (comma-separated, always in the same order): "
    "each book goes to the shard its id hashes to; the OCR cache is the first one's. Instead of --data-dir.",
)
@click.option(
    "--only-shard",
    type=click.IntRange(1, 1024),
    metavar="N",
    help="With --shards: index only the books of shard N (1-based), so that one job per shard can run at once.",
)
@click.option(
    "--lang",
    default="auto",
    show_default=True,
    help="Tesseract models, e.g. eng, deu+lat, frk or script/Fraktur. auto: per book, from the manifest's "
    "language and, for German and other languages once printed in Fraktur, the script Tesseract sees on a few pages.",
)
@click.option(
    "--tessdata-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="IIIF_SEARCH_TESSDATA_DIR",
    show_default="$IIIF_SEARCH_TESSDATA_DIR or Tesseract's own",
    help="Folder of Tesseract models (*.traineddata) to use instead of the installed ones, e.g. with "
    "UB Mannheim's frak2021 for old German print.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=lambda: os.cpu_count() or 1,
    show_default="one per core",
    help="Tesseract processes in parallel (not used with --cluster).",
)
@click.option(
    "--cluster",
    metavar="ADDRESS",
    envvar="IIIF_SEARCH_CLUSTER",
    show_envvar=True,
    help="OCR on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786); needs iiif-search[cluster].",
)
@click.option(
    "--cluster-timeout",
    type=click.FloatRange(1, 86400),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the Dask scheduler and its first worker.",
)
@click.option(
    "--shared-files",
    is_flag=True,
    help="With --cluster: workers read a folder's images at the same path (shared storage) instead of getting the bytes.",
)
@click.option(
    "--ocr",
    "ocr_mode",
    type=click.Choice(["auto", "tesseract", "existing"]),
    default="auto",
    show_default=True,
    help="auto: linked hOCR/ALTO when a canvas has it, else Tesseract.",
)
@click.option(
    "--ocr-width",
    type=click.IntRange(100, 20000),
    default=2400,
    show_default=True,
    help="Width in pixels asked of a IIIF image service for OCR (where the manifest gives the object's "
    "physical size, the width for 300 pixels an inch instead).",
)
@click.option(
    "--text-height",
    type=click.IntRange(0, 500),
    default=0,
    show_default=True,
    help="Scale each page before OCR so its text lines are about this many pixels tall, measured on a "
    "first look at a thumbnail (only ever smaller; 36 suits Tesseract); a IIIF image service of level 1 or "
    "more is asked for the thumbnail and the chosen size. 0: OCR every image at the size it comes in.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1, 86400),
    default=300.0,
    show_default=True,
    help="Seconds of Tesseract allowed per page.",
)
@click.option(
    "--psm", type=click.IntRange(0, 13), default=3, show_default=True, help="Tesseract page segmentation mode."
)
@click.option(
    "--wait",
    type=click.FloatRange(0),
    default=300.0,
    show_default=True,
    help="Seconds to wait when another job is writing the index.",
)
@click.option(
    "--alternatives/--no-alternatives",
    default=True,
    show_default=True,
    help="Index the plausible other readings of uncertain words (Tesseract's second choices: 2-8% more CPU with 2 passes; pages OCR'd without them get none from the cache later), and words with umlauts spelled with ae, oe, ue.",
)
@click.option(
    "--choice-iterations",
    type=click.IntRange(0),
    default=CHOICE_ITERATIONS,
    show_default=True,
    help="Tesseract's passes that find the second choices (lstm_choice_iterations): 2 find what its own 5 find on "
    "the test books, for less CPU; 5 reads OCR cached before this option without OCRing it again.",
)
@click.option(
    "--access",
    type=click.Choice(list(ACCESS_LEVELS)),
    help="Who may read the books (docs/access.md): public, clickthrough (readers who accept the terms) or "
    "restricted (logged-in readers). Default: a book indexed again keeps its level; a new one is public.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.version_option(package_name="iiif-search")
def main(
    sources: tuple[str, ...],
    book_id: str | None,
    data_dir: Path,
    shards: str | None,
    only_shard: int | None,
    lang: str,
    tessdata_dir: Path | None,
    workers: int,
    cluster: str | None,
    cluster_timeout: float,
    shared_files: bool,
    ocr_mode: str,
    ocr_width: int,
    text_height: int,
    timeout: float,
    psm: int,
    wait: float,
    alternatives: bool,
    choice_iterations: int,
    access: str | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """OCR and index IIIF books for search.

    SOURCE is a manifest URL (http/https), a manifest file, a IIIF Collection
    (every manifest in it), or a folder of page images.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if book_id and len(sources) > 1:
        raise click.UsageError("--id names one book: give one SOURCE with it")
    if shared_files and not cluster:
        raise click.UsageError("--shared-files is for --cluster (a local run reads the files itself)")
    shard_dirs = _shard_dirs(shards, only_shard)
    if shard_dirs:
        if click.get_current_context().get_parameter_source("data_dir") == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("give --shards or --data-dir, not both (the OCR cache is the first shard's)")
        data_dir = shard_dirs[0]
    # With --cluster the models are looked up on the workers, before the run (indexer/cluster/client.py).
    forced = (
        (None if lang.strip().lower() == "auto" else lang.strip()) if cluster else _forced_models(lang, tessdata_dir)
    )
    options = IndexOptions(
        data_dir=data_dir,
        lang=forced,
        tessdata_dir=tessdata_dir,
        workers=workers,
        ocr=ocr_mode,  # type: ignore[arg-type]
        ocr_width=ocr_width,
        text_height=text_height or None,
        timeout=timeout,
        psm=psm,
        book_id=book_id,
        wait=wait,
        cluster=cluster or None,
        cluster_timeout=cluster_timeout,
        shared_files=shared_files,
        shards=shard_dirs,
        only_shard=only_shard - 1 if only_shard is not None else None,
        alternatives=AlternativePolicy() if alternatives else NO_ALTERNATIVES,
        choices=alternatives,
        choice_iterations=choice_iterations,
        access=access,
    )
    progress = Progress() if quiet else TerminalProgress()
    started = time.monotonic()
    try:
        reports = index(sources, options, progress)
    except KeyboardInterrupt:
        click.echo("interrupted: pages OCR'd so far are cached; run the same command again to finish", err=True)
        sys.exit(130)
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
    seconds = time.monotonic() - started
    if as_json:
        click.echo(json.dumps(summary_json(reports, seconds, options.cluster), ensure_ascii=False))
    else:
        click.echo(summary_text(reports, seconds, options.cluster))
    sys.exit(0 if reports and all(r.ok for r in reports) else 1)


def _shard_dirs(shards: str | None, only_shard: int | None) -> tuple[Path, ...]:
    """--shards as paths, in their order; UsageError for an empty entry or --only-shard out of the list."""
    if shards is None:
        if only_shard is not None:
            raise click.UsageError("--only-shard is for --shards")
        return ()
    parts = [part.strip() for part in shards.split(",")]
    if not all(parts):
        raise click.UsageError(f"--shards {shards!r}: an empty directory name (DIR1,DIR2,... without spaces)")
    if only_shard is not None and only_shard > len(parts):
        raise click.UsageError(f"--only-shard {only_shard}: --shards lists {len(parts)} directories")
    return tuple(Path(part) for part in parts)


def _forced_models(lang: str, tessdata_dir: Path | None) -> str | None:
    """--lang's models spelled as installed ('script/Fraktur' may be 'Fraktur'), None for auto; UsageError when missing."""
    if lang.strip().lower() == "auto":
        return None
    from ocr.errors import MissingModel, OcrError
    from ocr.languages import resolve
    from ocr.tesseract import available_languages, tessdata_path

    folder = str(tessdata_dir) if tessdata_dir is not None else None
    try:
        return resolve(lang.strip(), available_languages(folder), str(tessdata_path(folder)))
    except MissingModel as exc:
        raise click.UsageError(str(exc)) from exc
    except OcrError as exc:
        raise click.ClickException(str(exc)) from exc
