"""iiif-search list (the demo prints its --links), serve's settings, and the shell scripts parse."""

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


def test_serve_hands_one_settings_object_to_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Options become a Settings object passed to create_app; nothing is written to os.environ."""
    import os

    import uvicorn

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    monkeypatch.setenv("IIIF_SEARCH_PAGE_SIZE", "7")  # still read: the variables are the settings' own
    before = dict(os.environ)
    result = CliRunner().invoke(
        main, ["serve", "--data-dir", str(tmp_path), "--public-url", "https://search.example.org/", "--port", "9"]
    )
    assert result.exit_code == 0, result.output
    settings = served["app"].state.settings
    assert (settings.data_dir, settings.public_url, settings.page_size) == (tmp_path, "https://search.example.org/", 7)
    assert served["port"] == 9
    assert dict(os.environ) == before
