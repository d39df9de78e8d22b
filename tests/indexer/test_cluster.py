"""index-manifest --cluster on a real Dask cluster on loopback (#15).

A `dask scheduler` and two `dask worker --nthreads 1` processes (subprocesses, with their
nannies, as a user starts them) OCR real sample books with real Tesseract:

- a folder book (its files sent as bytes) equals the local run of `indexed_books` page
  for page, word for word and box for box, although a worker is SIGKILLed mid-page;
- a manifest's images are fetched by the workers from a web server, same result;
- a page that kills every worker it lands on fails after the scheduler's bounded retries,
  with its reason, and the rest of the book is indexed;
- a scheduler killed mid-run: one-line error, exit 1, nothing of the book written; the
  re-run OCRs only the pages not cached;
- an unreachable scheduler, workers without Tesseract or without a language: one-line
  errors before anything is read or written; a worker with several threads is warned about.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.cli import summary_text
from indexer.index.store import Store
from indexer.pipeline import CanvasOutcome, IndexOptions, Progress, index
from tests.conftest import REPO
from tests.indexer.conftest import ServeDirectory
from tests.indexer.loopback_cluster import LoopbackCluster

pytestmark = pytest.mark.slow

HARPER = "en_harper_half_hours_with_highwaymen_1908"  # 10 pages
COLUM = "en_colum_boy_apprenticed_enchanter_1920"  # 14 pages
BEBEL = "de_bebel_frau_1879"  # 4 pages, German in Antiqua
POISON = Path(__file__).with_name("cluster_poison.py")
INDEX_MANIFEST = str(Path(sys.executable).with_name("index-manifest"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """Scheduler and two one-thread workers; OCR tasks of the page "poisoned p2" kill their worker."""
    directory = tmp_path_factory.mktemp("dask")
    with LoopbackCluster(directory, 2, preload=POISON, worker_env={"IIIF_SEARCH_TEST_POISON": "poisoned p2"}) as c:
        yield c


def assert_same_pages(data_dir: Path, book: str, reference_dir: Path, reference_book: str, canvases: int) -> None:
    """Every page once, with the same words, boxes and tokens as the reference index; same term counts."""
    snap, ref = Store(data_dir).snapshot(), Store(reference_dir).snapshot()
    try:
        assert snap.searcher is not None
        docs = list(snap.searcher.document_numbers(book=book, kind="page"))
        assert len(docs) == canvases, f"{len(docs)} page documents for {canvases} canvases"
        vocabulary: set[str] = set()
        for i in range(canvases):
            page, expected = snap.page_of(book, i), ref.page_of(reference_book, i)
            assert page is not None and expected is not None, i
            assert page.words == expected.words, f"canvas {i}: words or boxes differ"
            assert (page.tokens, page.token_words) == (expected.tokens, expected.token_words), i
            vocabulary.update(page.tokens)
        words = sorted(vocabulary)
        if book == reference_book:  # the same hits for every word of the book
            assert snap.term_counts(words, book) == ref.term_counts(words, reference_book)
    finally:
        snap.close()
        ref.close()


class KillAWorkerOnce(Progress):
    """After the first page is done, SIGKILL a worker that is OCRing another."""

    def __init__(self, cluster: LoopbackCluster) -> None:
        self.cluster = cluster
        self.killed: tuple[str, list[str]] | None = None
        self.workers_seen: list[int] = []

    def canvas_done(self, outcome: CanvasOutcome) -> None:
        if self.killed is None:
            self.killed = self.cluster.kill_busy_worker("iiif-ocr")

    def workers_changed(self, workers: int) -> None:
        self.workers_seen.append(workers)


def test_a_folder_book_equals_the_local_run_although_a_worker_is_killed_mid_page(
    cluster: LoopbackCluster, indexed_books: tuple[Path, object], tmp_path: Path
) -> None:
    reference, _ = indexed_books
    progress = KillAWorkerOnce(cluster)
    options = IndexOptions(data_dir=tmp_path / "data", cluster=cluster.address)
    [report] = index([str(REPO / "sample_books" / HARPER)], options, progress)
    assert progress.killed is not None
    _, its_tasks = progress.killed
    assert any("iiif-ocr" in task for task in its_tasks), its_tasks
    # Every page OCR'd on the cluster, the one that was running on the killed worker again elsewhere.
    assert report.ok and report.committed, report.to_json()
    assert (report.ocr, report.cached, report.existing) == (10, 0, 0)
    assert report.workers >= 1 and progress.workers_seen and progress.workers_seen[0] == 2
    assert_same_pages(tmp_path / "data", HARPER, reference, HARPER, 10)


def test_workers_fetch_a_manifests_images_and_index_what_the_local_run_does(
    cluster: LoopbackCluster, indexed_books: tuple[Path, object], http_server: ServeDirectory, tmp_path: Path
) -> None:
    reference, _ = indexed_books
    folder = REPO / "sample_books" / COLUM
    base = http_server(folder)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(_manifest(folder, base, pages=4)))
    options = IndexOptions(data_dir=tmp_path / "data", cluster=cluster.address, book_id="colum-web")
    [report] = index([str(manifest)], options)
    assert report.ok and (report.ocr, report.canvases) == (4, 4), report.to_json()
    assert_same_pages(tmp_path / "data", "colum-web", reference, COLUM, 4)


def _manifest(folder: Path, base: str, pages: int) -> dict[str, object]:
    """A Presentation 3 manifest of the folder's first pages, their images as plain URLs on `base`."""
    import pyvips

    items = []
    for n, image in enumerate(sorted(folder.glob("*.png"))[:pages], 1):
        header = pyvips.Image.new_from_file(str(image), access="sequential")
        canvas = f"{base}/canvas/{n}"
        body = {"id": f"{base}/{image.name}", "type": "Image", "format": "image/png"}
        annotation = {
            "id": f"{canvas}/a",
            "type": "Annotation",
            "motivation": "painting",
            "target": canvas,
            "body": body,
        }
        items.append(
            {
                "id": canvas,
                "type": "Canvas",
                "label": {"none": [str(n)]},
                "width": header.width,
                "height": header.height,
                "items": [{"id": f"{canvas}/p", "type": "AnnotationPage", "items": [annotation]}],
            }
        )
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": f"{base}/manifest.json",
        "type": "Manifest",
        "label": {"en": ["Colum, first pages"]},
        "language": ["en"],
        "items": items,
    }


def test_a_page_that_kills_every_worker_fails_alone_with_its_reason(cluster: LoopbackCluster, tmp_path: Path) -> None:
    folder = tmp_path / "poisoned"
    folder.mkdir()
    for name in ("0005.png", "0006.png", "0007.png"):  # the second is "poisoned p2"
        shutil.copy(REPO / "sample_books" / COLUM / name, folder / name)
    options = IndexOptions(data_dir=tmp_path / "data", cluster=cluster.address, lang="eng")
    [report] = index([str(folder)], options)
    assert report.committed and not report.ok
    assert report.ocr == 2
    [failure] = report.failed
    assert failure["canvas"] == 1
    assert "killed each Dask worker that ran it (4 tries" in str(failure["reason"]), failure
    assert "canvas 2 (p. 2): the page killed each Dask worker" in summary_text([report], 1.0, cluster.address)
    snap = Store(tmp_path / "data").snapshot()
    assert [snap.page_of("poisoned", i) is not None for i in range(3)] == [True, False, True]


def test_pages_queued_beside_a_page_that_kills_the_only_worker_are_indexed(tmp_path: Path) -> None:
    """A worker's death counts against every task it held: pages queued behind the poisoned one lose tries too.

    With one worker, each of its deaths takes the other pages in flight with it; they are
    run again alone afterwards, and only the page that kills the worker on its own fails.
    """
    folder = tmp_path / "poisoned"
    folder.mkdir()
    for name in ("0005.png", "0006.png", "0007.png", "0008.png"):  # the second is "poisoned p2"
        shutil.copy(REPO / "sample_books" / COLUM / name, folder / name)
    env = {"IIIF_SEARCH_TEST_POISON": "poisoned p2"}
    with LoopbackCluster(tmp_path / "dask", 1, preload=POISON, worker_env=env) as single:
        options = IndexOptions(data_dir=tmp_path / "data", cluster=single.address, lang="eng")
        [report] = index([str(folder)], options)
    assert [failure["canvas"] for failure in report.failed] == [1], report.failed
    assert report.ocr == 3
    snap = Store(tmp_path / "data").snapshot()
    assert [snap.page_of("poisoned", i) is not None for i in range(4)] == [True, False, True, True]


def test_shared_files_are_read_by_the_workers_at_their_path(
    cluster: LoopbackCluster, indexed_books: tuple[Path, object], tmp_path: Path
) -> None:
    reference, _ = indexed_books
    folder = tmp_path / "colum-shared"
    folder.mkdir()
    for name in ("0001.png", "0002.png"):
        shutil.copy(REPO / "sample_books" / COLUM / name, folder / name)
    result = _index_manifest(
        str(folder),
        "--data-dir",
        str(tmp_path / "data"),
        "--cluster",
        cluster.address,
        "--shared-files",
        "--lang",
        "eng",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ocr"] == 2
    assert_same_pages(tmp_path / "data", "colum-shared", reference, COLUM, 2)
    local = _index_manifest(str(folder), "--data-dir", str(tmp_path / "local"), "--shared-files")
    assert local.returncode == 2 and "--shared-files is for --cluster" in local.stderr


def test_the_pages_sampled_to_choose_a_books_models_are_read_by_the_workers(
    cluster: LoopbackCluster, tmp_path: Path
) -> None:
    """#14 picks a German book's models from the script Tesseract sees on a few pages: with --cluster, the workers look."""
    from indexer.cluster.client import Cluster
    from indexer.fetch import Fetcher
    from indexer.pipeline import _model_choice
    from indexer.sources import read_source

    with Fetcher() as fetcher:
        [book] = list(read_source(str(REPO / "sample_books" / BEBEL), fetcher))
        local = _model_choice(book, IndexOptions(data_dir=tmp_path / "local", workers=2), fetcher)
        connected = Cluster.connect(cluster.address)
        try:
            assert connected.check(tesseract=True) is None
            options = IndexOptions(data_dir=tmp_path / "remote", cluster=cluster.address)
            remote = _model_choice(book, options, fetcher, connected)
        finally:
            connected.close()
    assert remote == local, (remote, local)
    assert "on 3 of 3 sampled pages" in remote.reason, remote
    # Cached here, as a local run caches them: a re-run asks no worker.
    assert len(list((tmp_path / "remote" / "ocr-cache").rglob("*.osd"))) == 3


def test_a_language_some_worker_lacks_is_refused_before_the_run(cluster: LoopbackCluster, tmp_path: Path) -> None:
    result = _index_manifest(
        str(REPO / "sample_books" / HARPER),
        "--data-dir",
        str(tmp_path / "data"),
        "--cluster",
        cluster.address,
        "--lang",
        "eng+xyz",
    )
    assert result.returncode == 1
    assert _last_line(result.stderr) == (
        f"Error: 2 of 2 workers of {cluster.address} have no Tesseract model for xyz "
        f"({_first_worker(cluster)} on {os.uname().nodename}); install tesseract-ocr-xyz there"
    )
    assert not (tmp_path / "data" / "index").exists()


def test_a_lost_scheduler_stops_the_run_cleanly_and_the_rerun_uses_the_cache(
    cluster: LoopbackCluster, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    book = str(REPO / "sample_books" / HARPER)
    with LoopbackCluster(tmp_path / "doomed", 1) as doomed:
        job = subprocess.Popen(
            [INDEX_MANIFEST, book, "--data-dir", str(data_dir), "--cluster", doomed.address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert job.stderr is not None
        lines = []
        for line in job.stderr:
            lines.append(line)
            if "2/10 pages" in line:
                assert " pages/s on 1 worker, ETA " in line, line
                doomed.kill_scheduler()
                break
        stdout, rest = job.communicate(timeout=120)
        stderr = "".join(lines) + rest
    assert job.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert _last_line(stderr).startswith(f"Error: lost the Dask scheduler at {doomed.address} ("), stderr
    assert _last_line(stderr).endswith(
        "the book in progress was not written, the pages OCR'd so far are cached: run the same command again to finish"
    )
    assert stdout == ""
    assert Store(data_dir).snapshot().book(HARPER) is None  # nothing half-written
    cached = sum(1 for _ in (data_dir / "ocr-cache").rglob("*.hocr"))
    assert cached >= 2

    rerun = _index_manifest(book, "--data-dir", str(data_dir), "--cluster", cluster.address, "--json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["cached"] == cached and summary["ocr"] == 10 - cached, summary
    assert summary["cluster"] == {"scheduler": cluster.address, "workers": 2}


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("tcp://127.0.0.1:{port}", "Error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} (Timed out"),
        ("127.0.0.1", "Error: '127.0.0.1' is not a Dask scheduler address (missing port number"),
        ("http://127.0.0.1:{port}", "Error: 'http://127.0.0.1:{port}' is not a Dask scheduler address (unknown"),
    ],
    ids=["nobody-listens", "no-port", "not-dask"],
)
def test_an_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path: Path, address: str, error: str) -> None:
    started = time.monotonic()
    port = _closed_port()
    result = _index_manifest(
        str(REPO / "sample_books" / HARPER),
        "--data-dir",
        str(tmp_path / "data"),
        "--cluster-timeout",
        "3",
        env={"IIIF_SEARCH_CLUSTER": address.format(port=port)},
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr  # one line: no traceback, no log
    assert result.stderr.startswith(error.format(port=port)), result.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "data").exists()


def test_workers_without_tesseract_are_refused_and_threaded_workers_warned_about(tmp_path: Path) -> None:
    with LoopbackCluster(tmp_path / "dask", 0) as bare:
        # PATH without /usr/bin: the worker's Python runs, its Tesseract cannot be found.
        bare.add_worker("bare", nthreads=2, env={**os.environ, "PATH": str(Path(sys.executable).parent)})
        bare.wait_for_workers(1)
        result = _index_manifest(
            str(REPO / "sample_books" / HARPER), "--data-dir", str(tmp_path / "data"), "--cluster", bare.address
        )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "WARNING: 1 of 1 Dask workers run several tasks at once" in result.stderr
    assert "--nthreads 1 --nworkers N" in result.stderr
    assert _last_line(result.stderr).startswith(f"Error: 1 of 1 workers of {bare.address} cannot run Tesseract (")
    assert _last_line(result.stderr).endswith("install tesseract-ocr there")
    assert not (tmp_path / "data" / "index").exists()


def _index_manifest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INDEX_MANIFEST, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def _first_worker(cluster: LoopbackCluster) -> str:
    return sorted(cluster.worker_pids())[0]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
