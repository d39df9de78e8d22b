"""Load (#6), the short form: bench/load.py for 5 s per endpoint at 16 connections; zero errors.

The full run (64 connections, 60 s per endpoint) is a bench, recorded in docs/reliability.md:
`.venv/bin/python bench/load.py`. This one proves on every CI run that search, autocomplete
and tiles keep answering under concurrent load without a single error, and that the
server's memory does not run away.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import REPO, subprocess_env


def test_short_load_run_has_no_errors(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "load.py"),
            "--duration",
            "5",
            "--connections",
            "16",
            "--data-dir",
            str(tmp_path / "data"),
            "--json",
            str(out),
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["errors"] == 0
    for name in ("search", "autocomplete", "tiles"):
        endpoint = figures["endpoints"][name]
        assert endpoint["requests"] > 100 and endpoint["errors"] == 0, (name, endpoint)
    # Flat enough for 15 s: libvips' and the page caches fill, nothing grows without bound.
    assert figures["rss_last_mb"] < figures["rss_first_mb"] + 200, figures
    print("\n" + run.stdout)
