"""Mirador 4, Mirador 3, UV and Clover in headless Chromium against the real server.

Session fixtures, built once:

- `sample`: two pages of *Half-Hours with the Highwaymen* indexed twice with the real
  `index-manifest` CLI: as a folder of scans (book `harper`, Presentation 3.0, OCR'd by
  Tesseract, images from the Image API 3.0 endpoint) and as a Presentation 2.1 manifest
  written here (book `harper-v2`, hOCR linked in `seeAlso`, images from the Image
  API 2.1 endpoint via `--image-root`), once more with canvases smaller than the
  images (`harper-scaled`), and once with two words of its hOCR turned into markup, as a
  hostile remote hOCR could hold (`harper-xss`, first page only, #12), and once with one
  low-confidence word given an hOCR alternative reading (`harper-alt`, first page only, #21);
- `live_server`: `iiif-search serve` on a free port of 127.0.0.1, as a subprocess polled
  until it answers, with IIIF_SEARCH_PAGE_SIZE=5 so a common word runs over several pages;
- `books_server`: the same on `indexed_books` (tests/conftest.py), four real books OCR'd by
  Tesseract, for the search over every book (#13);
- `browser` (per module): Debian's Chromium driven by Playwright (never a downloaded browser).

Per test, `page` is a fresh browser context; when the test fails its screenshot and the
browser console go to the artifacts folder (printed in the failure report).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = Path(os.environ.get("IIIF_SEARCH_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BOOK_FOLDER = "en_harper_half_hours_with_highwaymen_1908"
PAGES = ("0003.png", "0005.png")  # "highwayman" on both, "balfour" on the second, "the" ~20 times on each
PAGE_SIZE = 5
SCALED_CANVAS_WIDTH = 1000  # harper-scaled: canvases smaller than the images, as Presentation allows
VIEWPORT = {"width": 1400, "height": 900}


@dataclass(frozen=True)
class Sample:
    """The indexed sample: data folder, page images, and the two books' ids."""

    data_dir: Path
    image_root: Path
    book_v3: str = "harper"
    book_v2: str = "harper-v2"
    book_scaled: str = "harper-scaled"
    book_xss: str = "harper-xss"


#: harper-alt (#21): its first page's hOCR gives this low-confidence word (x_wconf 53 as Tesseract
#: read it) an hOCR `alternatives` reading, which a search finds and highlights at the printed word.
ALTERNATIVE_WORD = ("cabbage.", "cobbage.")

#: The words of harper-xss's hOCR that become markup (hOCR escapes them; the parser reads them back).
HOSTILE_WORDS = {"highwayman": "<img src=x onerror=alert(1)>", "Bailey,": "</script><b>bold</b>"}


@pytest.fixture(scope="session")
def hostile_words() -> dict[str, str]:
    """Word of the page -> the markup harper-xss holds in its place."""
    return dict(HOSTILE_WORDS)


def _hostile_hocr(hocr: Path, out: Path) -> Path:
    """A copy of a Tesseract hOCR file whose HOSTILE_WORDS read as HTML markup once parsed."""
    text = hocr.read_text(encoding="utf-8")
    for word, markup in HOSTILE_WORDS.items():
        escaped = markup.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if f">{word}<" not in text:
            pytest.fail(f"{word!r} is not a word of {hocr}; Tesseract read the page differently")
        text = text.replace(f">{word}<", f">{escaped}<", 1)
    out.write_text(text, encoding="utf-8")
    return out


def _alternative_hocr(hocr: Path, out: Path) -> Path:
    """A copy of a Tesseract hOCR file where ALTERNATIVE_WORD carries hOCR 1.2 `alternatives` (§8.1)."""
    printed, other = ALTERNATIVE_WORD
    text = hocr.read_text(encoding="utf-8")
    if f">{printed}<" not in text:
        pytest.fail(f"{printed!r} is not a word of {hocr}; Tesseract read the page differently")
    markup = (
        f"><span class='alternatives'><ins class='alt' title='nlp 0.2'>{printed}</ins>"
        f"<del class='alt' title='nlp 0.3'>{other}</del></span><"
    )
    out.write_text(text.replace(f">{printed}<", markup, 1), encoding="utf-8")
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def _source_pages() -> list[Path]:
    """The sample pages, from sample_books/."""
    folder = REPO / "sample_books" / BOOK_FOLDER
    if not all((folder / name).is_file() for name in PAGES):
        pytest.fail(f"sample pages {PAGES} of {BOOK_FOLDER} not found in {folder}")
    return [folder / name for name in PAGES]


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def _v2_manifest(
    base: str, book: str, pages: list[Path], hocr: list[Path], canvas_width: int | None = None
) -> dict[str, Any]:
    """A Presentation 2.1 manifest of the pages: Image API 2.1 services on this server, hOCR in seeAlso.

    With `canvas_width`, canvases are that wide (and as tall as the image's aspect ratio
    gives) instead of the images' pixel size, so OCR boxes must be scaled onto them.
    """
    root = f"{base}/test-fixtures/{book}"
    canvases = []
    for n, (page, ocr) in enumerate(zip(pages, hocr, strict=True), start=1):
        width, height = _image_size(page)
        canvas_w = canvas_width or width
        canvas_h = round(height * canvas_w / width)
        service = f"{base}/iiif/image/2/{page.stem}"
        canvas_id = f"{root}/canvas/c{n}"
        canvases.append(
            {
                "@id": canvas_id,
                "@type": "sc:Canvas",
                "label": f"p. {n}",
                "width": canvas_w,
                "height": canvas_h,
                "images": [
                    {
                        "@id": f"{root}/annotation/image-{n}",
                        "@type": "oa:Annotation",
                        "motivation": "sc:painting",
                        "on": canvas_id,
                        "resource": {
                            "@id": f"{service}/full/full/0/default.jpg",
                            "@type": "dctypes:Image",
                            "format": "image/jpeg",
                            "width": width,
                            "height": height,
                            "service": {
                                "@context": "http://iiif.io/api/image/2/context.json",
                                "@id": service,
                                "profile": "http://iiif.io/api/image/2/level1.json",
                            },
                        },
                    }
                ],
                "seeAlso": {
                    "@id": ocr.as_uri(),
                    "format": "text/vnd.hocr+html",
                    "profile": "http://kba.cloud/hocr-spec/1.2/",
                },
            }
        )
    return {
        "@context": "http://iiif.io/api/presentation/2/context.json",
        "@id": f"{root}/manifest.json",
        "@type": "sc:Manifest",
        "label": f"Half-Hours with the Highwaymen ({book}: Presentation 2.1 test manifest)",
        "sequences": [{"@id": f"{root}/sequence/normal", "@type": "sc:Sequence", "canvases": canvases}],
    }


@pytest.fixture(scope="session")
def page_size() -> int:
    """Annotations per search response page of the live server."""
    return PAGE_SIZE


@pytest.fixture(scope="session")
def server_port() -> int:
    return _free_port()


@pytest.fixture(scope="session")
def base_url(server_port: int) -> str:
    return f"http://127.0.0.1:{server_port}"


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory, base_url: str) -> Sample:
    """Index the two sample pages as a v3 folder book and as a v2 manifest, with the real CLI."""
    if not shutil.which("tesseract"):
        pytest.fail("tesseract is not installed (apt-get install tesseract-ocr); scripts/test installs it")
    root = tmp_path_factory.mktemp("browser-sample")
    data_dir, pages_dir, hocr_dir = root / "data", root / BOOK_FOLDER, root / "hocr"
    pages_dir.mkdir()
    hocr_dir.mkdir()
    sources = _source_pages()
    for page in sources:
        shutil.copy(page, pages_dir / page.name)
    book_json = sources[0].parent / "book.json"
    if book_json.is_file():
        shutil.copy(book_json, pages_dir / "book.json")
    pages = [pages_dir / page.name for page in sources]
    index = str(VENV_BIN / "index-manifest")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def ocr(page: Path) -> Path:
        out = hocr_dir / page.stem
        _run(["tesseract", str(page), str(out), "-l", "eng", "hocr"], env=env)
        return out.with_suffix(".hocr")

    with ThreadPoolExecutor(max_workers=3) as pool:
        folder_job = pool.submit(_run, [index, str(pages_dir), "--id", "harper", "--data-dir", str(data_dir), "-q"])
        hocr = list(pool.map(ocr, pages))
        folder_job.result()
    hostile = [_hostile_hocr(hocr[0], hocr_dir / "hostile.hocr")]
    alternative = [_alternative_hocr(hocr[0], hocr_dir / "alternative.hocr")]
    for book, book_pages, book_hocr, canvas_width in (
        ("harper-v2", pages, hocr, None),
        ("harper-scaled", pages, hocr, SCALED_CANVAS_WIDTH),
        ("harper-xss", pages[:1], hostile, None),
        ("harper-alt", pages[:1], alternative, None),
    ):
        manifest = root / f"{book}.json"
        manifest.write_text(json.dumps(_v2_manifest(base_url, book, book_pages, book_hocr, canvas_width), indent=1))
        _run([index, str(manifest), "--id", book, "--data-dir", str(data_dir), "--ocr", "existing", "-q"])
    return Sample(data_dir=data_dir, image_root=pages_dir)


@contextlib.contextmanager
def serve(data_dir: Path, port: int, log_path: Path, *options: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`iiif-search serve` on `data_dir` at 127.0.0.1:`port` as a subprocess, until it answers; yields its base URL."""
    base_url = f"http://127.0.0.1:{port}"
    server_env = {**os.environ, **(env or {})}
    server_env.pop("IIIF_SEARCH_PUBLIC_URL", None)
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "iiif-search"),
                "serve",
                "--data-dir",
                str(data_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *options,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env,
            cwd=data_dir.parent,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 60 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def live_server(
    sample: Sample, server_port: int, base_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`iiif-search serve` on the sample index; yields its base URL."""
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    options = ("--image-root", str(sample.image_root))
    with serve(sample.data_dir, server_port, log_path, *options, env={"IIIF_SEARCH_PAGE_SIZE": str(PAGE_SIZE)}) as url:
        assert url == base_url
        if httpx.get(f"{base_url}/iiif/harper/manifest", timeout=30).status_code != 200:
            pytest.fail("the sample server does not serve the harper book")
        yield url


@pytest.fixture(scope="session")
def books_server(indexed_books: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`iiif-search serve` on `indexed_books` (tests/conftest.py: four real books); yields its base URL."""
    data_dir, _ = indexed_books
    with serve(data_dir, _free_port(), tmp_path_factory.mktemp("books-server") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def viewers_installed() -> None:
    """Fail early, with the fix, when the npm viewers are missing."""
    missing = [
        p
        for p in (
            "viewers/node_modules/mirador/dist/mirador.min.js",
            "viewers/mirador3/node_modules/mirador/dist/mirador.min.js",
            "viewers/node_modules/universalviewer/dist/umd/UV.js",
            "viewers/clover/build/dist/clover.js",
        )
        if not (REPO / p).is_file()
    ]
    if missing:
        pytest.fail(
            f"viewer files missing ({', '.join(missing)}): run scripts/install-viewers "
            "(or deselect these tests with -m 'not browser')"
        )


@pytest.fixture(scope="module")
def browser(viewers_installed: None) -> Iterator[Any]:
    """Headless Debian Chromium through Playwright, one per test module.

    Playwright's sync API marks its event loop as running on the main thread for as long
    as it is open, which breaks any asyncio test run meanwhile; module scope closes it
    as soon as the browser tests of a module are done (a launch costs about a second).
    """
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium (or deselect with -m 'not browser')")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where failure screenshots and console logs go (BROWSER_ARTIFACTS overrides)."""
    configured = os.environ.get("BROWSER_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("browser-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/screenshots/ with UPDATE_SCREENSHOTS=1, else a temporary folder."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        path = REPO / "docs" / "screenshots"
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so `page` knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Any, artifacts_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page in its own context; on failure, a screenshot and the console are saved."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(f"[{message.type}] {message.text}"))
    page.on("pageerror", lambda error: console.append(f"[pageerror] {error}"))

    def on_dialog(dialog: Any) -> None:
        # An alert() is what an injected script would show: recorded, then closed.
        console.append(f"[dialog] {dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.console_log = console  # read by tests that assert no JavaScript errors
    try:
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is not None and report.failed:
            stem = artifacts_dir / request.node.name.replace("/", "_")[:120]
            try:
                page.screenshot(path=f"{stem}.png", full_page=True)
            except Exception as exc:
                console.append(f"[harness] screenshot failed: {exc}")
            Path(f"{stem}.console.txt").write_text("\n".join(console))
            print(f"\nbrowser artifacts: {stem}.png, {stem}.console.txt", file=sys.stderr)
        context.close()
