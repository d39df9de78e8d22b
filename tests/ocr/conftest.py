"""One test per real OCR file: tests asking for `hocr_file` or `alto_file` run once per file.

The `shared_data` fixture itself lives in tests/conftest.py. This file can move there as is:
the repository root is found by its pyproject.toml, not by how deep this file sits.
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests asking for `hocr_file` or `alto_file` once per real file, so a new file is a new test."""
    for name, files in (("hocr_file", HOCR_FILES), ("alto_file", ALTO_FILES)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, files, ids=[path.name for path in files])
