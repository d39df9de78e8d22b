"""Fixtures shared by every test package: the test data, books indexed once, the read guard.

The test data is in tests/data (sources and licences in its README.md); the sample books'
scans are in sample_books/. Nothing outside the checkout is read: the read guard
(tests/read_guard.py) fails a test that reads a folder beside it (#11).
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.read_guard import ReadGuard

REPO = Path(__file__).resolve().parents[1]
#: Host names the in-process test clients send (httpx's `testserver`) besides the defaults.
TEST_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]
#: Real files made by others (books' ground truth, OCR files, manifests), see tests/data/README.md.
TEST_DATA = REPO / "tests" / "data"
#: Watches the whole session, collection included (installed in pytest_configure).
READ_GUARD = ReadGuard(REPO)


def read_test_file(name: str | Path) -> bytes:
    """The bytes of tests/data/`name`, unzipped when only `name`.gz is stored.

    The big OCR files are kept gzipped to keep the checkout small (#11); tests name them by
    their real name. An absolute `name` (a path from a listing of tests/data) is read as is.
    """
    path = TEST_DATA / name
    zipped = path.with_name(path.name + ".gz")
    if path.suffix != ".gz" and not path.exists() and zipped.exists():
        path = zipped
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


@pytest.fixture(scope="session")
def test_data() -> Path:
    """tests/data, the folder of the test data."""
    return TEST_DATA


@pytest.fixture(scope="session")
def spec_examples() -> Path:
    """The JSON examples of the Content Search and Image API specifications."""
    return TEST_DATA / "iiif" / "spec-examples"


def pytest_configure(config: pytest.Config) -> None:
    sys.addaudithook(READ_GUARD.audit)


def pytest_unconfigure(config: pytest.Config) -> None:
    READ_GUARD.active = False


def pytest_collection_finish(session: pytest.Session) -> None:
    if found := READ_GUARD.take():
        pytest.exit(f"collecting the tests read beside the checkout: {found}; test data belongs in tests/data", 1)


@pytest.fixture(autouse=True)
def _reads_stay_in_the_checkout() -> Iterator[None]:
    """Fail the test (at teardown) that read a folder beside the checkout, fixtures included."""
    yield
    if found := READ_GUARD.take():
        pytest.fail(f"read beside the checkout: {found}; copy test data into tests/data (see its README.md)")


# -- indexing real books once per session ---------------------------------------------

#: The roman-type books with ground truth (tests/data/books/<book>/) -> the folder of their scans.
ROMAN_BOOKS = {
    "en_harper_half_hours_with_highwaymen_1908": REPO / "sample_books" / "en_harper_half_hours_with_highwaymen_1908",
    "en_colum_boy_apprenticed_enchanter_1920": REPO / "sample_books" / "en_colum_boy_apprenticed_enchanter_1920",
    "de_bebel_frau_1879": REPO / "sample_books" / "de_bebel_frau_1879",
    "fr_bnl_newspaper_columns_1858_1861": TEST_DATA / "books" / "fr_bnl_newspaper_columns_1858_1861",
}


@pytest.fixture(scope="session")
def ocr_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One hOCR cache for the whole session: each real page is OCR'd once, whatever test asks."""
    return tmp_path_factory.mktemp("ocr-cache")


@pytest.fixture(scope="session")
def make_data_dir(tmp_path_factory: pytest.TempPathFactory, ocr_cache: Path):  # type: ignore[no-untyped-def]
    """make_data_dir(name) -> a fresh data directory sharing the session's OCR cache."""

    def make(name: str = "data") -> Path:
        data_dir = tmp_path_factory.mktemp(name)
        (data_dir / "ocr-cache").symlink_to(ocr_cache, target_is_directory=True)
        return data_dir

    return make


@pytest.fixture(scope="session")
def indexed_books(make_data_dir):  # type: ignore[no-untyped-def]
    """A data directory with the four roman-type books OCR'd by real Tesseract, and the reports."""
    from indexer.pipeline import IndexOptions, index

    data_dir = make_data_dir("books")
    sources = [str(folder) for folder in ROMAN_BOOKS.values()]
    reports = index(sources, IndexOptions(data_dir=data_dir, workers=2))
    assert all(r.ok for r in reports), [r.to_json() for r in reports if not r.ok]
    return data_dir, reports


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last.

    Playwright's sync API keeps an event loop running on the main thread while its
    session fixture lives; asyncio tests collected after it would fail with
    "Runner.run() cannot be called from a running event loop".
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
