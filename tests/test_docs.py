"""The docs that mirror the code are current: CLI help and the settings table (datasette's test_docs)."""

from __future__ import annotations

import pytest

from tests.docgen import SECTIONS, render


@pytest.mark.parametrize("path", sorted(SECTIONS), ids=lambda p: p.name)
def test_generated_docs_are_current(path) -> None:
    assert path.read_text(encoding="utf-8") == render(path), f"run scripts/update-docs to refresh {path.name}"
