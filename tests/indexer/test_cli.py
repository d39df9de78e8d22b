"""The index-manifest command line: help, usage errors, summaries, exit codes, kill and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from indexer import cli
from indexer.cli import main
from indexer.index.store import Store
from indexer.pipeline import IndexOptions

REPO = Path(__file__).resolve().parents[2]
HARPER = REPO / "sample_books" / "en_harper_half_hours_with_highwaymen_1908"
INDEX_MANIFEST = [sys.executable, "-c", "from indexer.cli import main; main()"]


def test_help_lists_every_option() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for option in (
        "--id",
        "--data-dir",
        "--lang",
        "--workers",
        "--ocr",
        "--ocr-width",
        "--timeout",
        "--json",
        "--wait",
        "--choice-iterations",
    ):
        assert option in result.output


def test_choice_iterations_reach_the_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """#21: index-manifest asks Tesseract for 2 passes of choices unless told otherwise (docs/benchmarks.md)."""
    seen: list[IndexOptions] = []
    monkeypatch.setattr(cli, "index", lambda sources, options, progress: seen.append(options) or [])
    runner = CliRunner()
    for arguments in ([], ["--choice-iterations", "5"]):
        runner.invoke(main, [str(HARPER), "--lang", "eng", "--data-dir", str(tmp_path), "-q", *arguments])
    assert [options.choice_iterations for options in seen] == [2, 5]
    assert runner.invoke(main, [str(HARPER), "--choice-iterations", "-1"]).exit_code == 2


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, []).exit_code == 2
    result = runner.invoke(main, [str(HARPER), "--lang", "xyz", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no model for xyz" in result.output
    result = runner.invoke(main, [str(HARPER), str(HARPER), "--id", "x", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2


def test_bad_source_message_and_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text('{"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Nonsense"}')
    result = CliRunner().invoke(main, [str(bad), "--data-dir", str(tmp_path / "d"), "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["ok"] is False and summary["books"][0]["error"]


def test_json_summary_of_a_cached_book(make_data_dir, indexed_books) -> None:
    data_dir = make_data_dir()
    result = CliRunner().invoke(main, [str(HARPER), "--data-dir", str(data_dir), "--json", "--workers", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["cached"] == 10 and summary["ocr"] == 0 and summary["words"] > 2000
    assert set(summary) >= {"books", "canvases", "ocr", "cached", "existing", "failed", "words", "seconds"}


def _cached_pages(data_dir: Path) -> int:
    return sum(1 for _ in (data_dir / "ocr-cache").rglob("*.hocr"))


def test_killed_run_resumes_without_ocr_of_finished_pages(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    for n in range(1, 5):
        shutil.copy(HARPER / f"{n:04d}.png", book / f"{n:04d}.png")
    data_dir = tmp_path / "data"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    args = [*INDEX_MANIFEST, str(book), "--data-dir", str(data_dir), "--workers", "1", "--json", "--quiet"]
    job = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _cached_pages(data_dir) < 2 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    done = _cached_pages(data_dir)
    assert 2 <= done < 4, "the job finished before it could be killed"
    assert Store(data_dir).snapshot().book("book") is None  # nothing half-written

    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["cached"] == done and summary["ocr"] == 4 - done
    assert Store(data_dir).snapshot().book("book").page_count == 4  # type: ignore[union-attr]


def test_two_jobs_at_once_both_finish_and_the_index_is_whole(make_data_dir, indexed_books) -> None:
    data_dir = make_data_dir()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    args = [*INDEX_MANIFEST, str(HARPER), "--data-dir", str(data_dir), "--workers", "1", "--quiet", "--json"]
    jobs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = [job.communicate(timeout=300) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], [err for _, err in outputs]
    book = Store(data_dir).snapshot().book(HARPER.name)
    assert book is not None and book.page_count == 10
