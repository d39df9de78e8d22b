"""Every docstring example in ocr/, indexer/ and search_service/ holds (none is skipped)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: Modules whose import does something: `python -m search_service` starts the server.
NOT_IMPORTED = {"search_service.__main__"}


def _modules() -> list[str]:
    names = []
    for package in ("ocr", "indexer", "search_service"):
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            if name not in NOT_IMPORTED:
                names.append(name)
    return names


@pytest.mark.parametrize("module", _modules())
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_no_example_is_skipped() -> None:
    skipped = [
        str(path.relative_to(REPO))
        for package in ("ocr", "indexer", "search_service")
        for path in (REPO / package).rglob("*.py")
        if "doctest: +SKIP" in path.read_text(encoding="utf-8")
    ]
    assert skipped == [], "make these examples run (a temporary folder, a tiny index), don't skip them"
