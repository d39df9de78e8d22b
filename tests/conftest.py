"""Fixtures shared by every test package: where the shared test data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Host names the in-process test clients send (httpx's `testserver`) besides the defaults.
TEST_HOSTS = ["testserver", "localhost", "127.0.0.1", "[::1]"]
# The shared data sits beside the clone (../shared), in CI as on a developer's machine;
# the product itself never reads it.
SHARED = (REPO.parent / "shared").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}: clone the project beside ../shared")
    return path


@pytest.fixture(scope="session")
def shared_specs() -> Path:
    return SHARED / "specs"


# -- indexing real books once per session ---------------------------------------------

ROMAN_BOOKS = {
    # book folder -> where its scans are (sample_books/ in the product, the French one only in shared/)
    "en_harper_half_hours_with_highwaymen_1908": "sample",
    "en_colum_boy_apprenticed_enchanter_1920": "sample",
    "de_bebel_frau_1879": "sample",
    "fr_kovalewsky_coutume_ossete_1893": "shared",
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


def book_folder(book: str, shared: Path) -> Path:
    if ROMAN_BOOKS.get(book) == "sample":
        return REPO / "sample_books" / book
    return shared / "books" / book


@pytest.fixture(scope="session")
def indexed_books(make_data_dir, shared_data: Path):  # type: ignore[no-untyped-def]
    """A data directory with the four roman-type books OCR'd by real Tesseract, and the reports."""
    from indexer.pipeline import IndexOptions, index

    data_dir = make_data_dir("books")
    sources = [str(book_folder(book, shared_data)) for book in ROMAN_BOOKS]
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
