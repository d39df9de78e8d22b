"""One test per real OCR file: tests asking for `hocr_file` or `alto_file` run once per file.

The files are tests/data/ocr/<kind>/ (the big ones gzipped: read them with
`tests.conftest.read_test_file`); the test id is the file's name without `.gz`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TEST_DATA


def _ocr_files(kind: str, suffixes: tuple[str, ...]) -> list[Path]:
    """Every OCR file under tests/data/ocr/<kind>/, gzipped or not; images and plain text left out."""
    names = suffixes + tuple(suffix + ".gz" for suffix in suffixes)
    return sorted(
        path for path in (TEST_DATA / "ocr" / kind).rglob("*") if path.is_file() and path.name.endswith(names)
    )


HOCR_FILES = _ocr_files("hocr", (".hocr", ".html"))
ALTO_FILES = _ocr_files("alto", (".xml",))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests asking for `hocr_file` or `alto_file` once per real file, so a new file is a new test."""
    for name, files in (("hocr_file", HOCR_FILES), ("alto_file", ALTO_FILES)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, files, ids=[path.name.removesuffix(".gz") for path in files])
