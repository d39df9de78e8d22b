"""iiif-search list (the demo prints its --links), and the shell scripts parse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from search_service.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_list_prints_books_and_viewer_links(indexed_books) -> None:
    data_dir, _ = indexed_books
    result = CliRunner().invoke(main, ["list", "--data-dir", str(data_dir), "--links", "http://h:1/"])
    assert result.exit_code == 0, result.output
    assert "  manifest   http://h:1/iiif/de_bebel_frau_1879/manifest" in result.output
    assert (
        "  UV         http://h:1/viewer/uv?manifest=http%3A%2F%2Fh%3A1%2Fiiif%2Fde_bebel_frau_1879%2Fmanifest"
        in result.output
    )
    rows = CliRunner().invoke(main, ["list", "--data-dir", str(data_dir), "--json"]).output.splitlines()
    assert {json.loads(row)["id"] for row in rows} >= {
        "de_bebel_frau_1879",
        "en_harper_half_hours_with_highwaymen_1908",
    }


@pytest.mark.parametrize(
    "script", ["scripts/setup", "scripts/demo", "scripts/test", "scripts/install-viewers", ".ci/run"]
)
def test_shell_scripts_parse(script: str) -> None:
    assert subprocess.run(["bash", "-n", str(REPO / script)], capture_output=True).returncode == 0
