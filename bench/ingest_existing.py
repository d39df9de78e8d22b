"""Ingest speed from existing OCR: the 347-page hOCR book through index-manifest --ocr existing.

    .venv/bin/python bench/ingest_existing.py [--workers N] [--repeat R]

Splits the Google Books hOCR of *Histoire du Pérou* (tests/data) into one file
per page, writes a v3 manifest linking each canvas to its page (seeAlso), and times
the real `index-manifest` command on it (a fresh data directory). Prints pages/s
and index bytes per page. Target on 2 cores: >= 200 pages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import PERU_HOCR, REPO, commit, dir_bytes, hocr_manifest, machine, split_hocr_pages, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=1, help="index the book this many times over as one manifest")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pages = split_hocr_pages(PERU_HOCR, work / "pages")
        manifest = write_json(work / "manifest.json", hocr_manifest(pages, "https://example.org/peru", args.repeat))
        canvases = len(pages) * args.repeat
        rates = []
        for run in range(args.runs):
            data_dir = work / f"data{run}"
            started = time.perf_counter()
            result = subprocess.run(
                [
                    str(REPO / ".venv/bin/index-manifest"),
                    str(manifest),
                    "--ocr",
                    "existing",
                    "--id",
                    "peru",
                    "--data-dir",
                    str(data_dir),
                    "--workers",
                    str(args.workers),
                    "--json",
                    "--quiet",
                ],
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                sys.exit(f"index-manifest failed: {result.stderr}{result.stdout}")
            summary = json.loads(result.stdout)
            assert summary["existing"] == canvases, summary
            rates.append(canvases / seconds)
            index_bytes = dir_bytes(data_dir / "index")
            print(
                f"run {run + 1}: {canvases} pages in {seconds:.2f}s = {canvases / seconds:.0f} pages/s "
                f"(words {summary['words']}, index {index_bytes / 1e6:.1f} MB = {index_bytes / canvases:.0f} bytes/page)"
            )
        best = max(rates)
        median = sorted(rates)[len(rates) // 2]
        print(f"\nmachine: {machine()}; commit {commit()}; workers {args.workers}")
        print(
            f"existing-OCR ingest: median {median:.0f} pages/s, best {best:.0f} pages/s "
            f"(whole command, process start included); index {index_bytes / canvases:.0f} bytes/page"
        )


if __name__ == "__main__":
    main()
