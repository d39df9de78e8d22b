"""Fixtures for the ocr tests: the shared real-data folder and one parametrization per OCR file.

Self-contained so it can move to tests/conftest.py as is: the repository root is found by
its pyproject.toml, not by how deep this file sits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# The shared data lies beside the clone: <repo>/../shared/data.
_REPO_ROOT = next(
    (folder for folder in Path(__file__).resolve().parents if (folder / "pyproject.toml").is_file()),
    Path(__file__).resolve().parents[2],
)
SHARED_DATA = _REPO_ROOT / ".." / "shared" / "data"


def _ocr_files(kind: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Every OCR file under shared/data/ocr/<kind>/, images and plain text left out."""
    folder = SHARED_DATA / "ocr" / kind
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.name.endswith(suffixes))


HOCR_FILES = _ocr_files("hocr", (".hocr", ".html"))
ALTO_FILES = _ocr_files("alto", (".xml",))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared test data folder (../shared/data beside the clone); skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA.resolve()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests asking for `hocr_file` or `alto_file` once per real file, so a new file is a new test."""
    for name, files in (("hocr_file", HOCR_FILES), ("alto_file", ALTO_FILES)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, files, ids=[path.name for path in files])
