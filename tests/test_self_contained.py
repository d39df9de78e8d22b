"""The repository stands on its own (#11): nothing points beside the checkout, the test data is here and small."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import READ_GUARD, REPO, TEST_DATA, read_test_file
from tests.read_guard import ReadGuard

# The data folder the team once kept beside its clones, and the Python way of reaching it.
# Written in pieces, so that this file does not match itself.
BESIDE = re.compile("|".join((re.escape("../" + "shared"), r"\.parent\s*/\s*[\"']" + "shared")))


def tracked_files() -> list[Path]:
    """Every file git tracks in this checkout; skips the test outside a git checkout (an unpacked archive)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout, so no list of tracked files")
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=False)
    if listed.returncode != 0:
        pytest.skip(f"git ls-files failed: {listed.stderr.decode(errors='replace').strip()}")
    return [REPO / name for name in listed.stdout.decode().split("\0") if name]


def test_no_tracked_file_points_beside_the_checkout() -> None:
    found = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # scans, gzipped OCR; a file deleted but not yet committed
        found += [f"{path.relative_to(REPO)}:{n}" for n, line in enumerate(text.splitlines(), 1) if BESIDE.search(line)]
    assert found == [], "test data belongs in tests/data (see tests/data/README.md)"


def test_the_test_data_stays_small() -> None:
    """Under 20 MB in all (#11): crop, subsample or gzip what a test needs only part of."""
    total = sum(path.stat().st_size for path in TEST_DATA.rglob("*") if path.is_file())
    assert total < 20_000_000, f"tests/data holds {total / 1e6:.1f} MB"


def test_gzipped_files_read_as_their_plain_name() -> None:
    name = "ocr/hocr/solr-ocrhighlighting/google1000_histoire_du_perou_1840_347pages.hocr.html"
    assert not (TEST_DATA / name).exists() and (TEST_DATA / (name + ".gz")).exists()
    data = read_test_file(name)
    assert data == gzip.decompress((TEST_DATA / (name + ".gz")).read_bytes())
    assert len(data) == 4_140_048  # the size of the original file
    assert read_test_file(TEST_DATA / (name + ".gz")) == data  # a listed .gz path reads the same


def test_the_read_guard_records_reads_in_sibling_folders_only(tmp_path: Path) -> None:
    guard = ReadGuard(tmp_path / "repo")
    data = str(tmp_path / "shared" / "data" / "page.hocr")
    listing = str(tmp_path / "other-worktree")
    guard.audit("open", (data, "rb", 0))
    guard.audit("os.scandir", (listing,))
    for harmless in (
        ("open", (str(tmp_path / "repo" / "tests" / "data" / "page.hocr"), "rb", 0)),  # in the checkout
        ("open", (str(tmp_path / ".cache" / "x"), "r", 0)),  # a hidden sibling
        ("open", (str(tmp_path / "tmpab12cd34" / "x"), "r", 0)),  # a temporary folder
        ("open", (str(tmp_path / "out" / "report.json"), "w", 0)),  # written, not read
        ("open", ("/usr/share/zoneinfo/UTC", "rb", 0)),  # outside the parent folder
        ("open", (3, "r", 0)),  # a file descriptor
        ("os.listdir", (str(tmp_path),)),  # the parent folder itself
        ("compile", (b"", "<string>")),  # another event
    ):
        guard.audit(*harmless)
    assert guard.take() == [data, listing]
    assert guard.take() == []
    assert not ReadGuard(Path("/repo")).active  # at the root, the siblings are the system's folders


def test_the_session_guard_sees_a_real_read_beside_the_checkout() -> None:
    if not READ_GUARD.active:
        pytest.skip("the checkout sits at the filesystem root: no guard")
    missing = REPO.parent / "no-such-folder-for-this-test" / "page.hocr"  # nothing is created
    with pytest.raises(FileNotFoundError):
        missing.read_bytes()
    assert READ_GUARD.take() == [str(missing)]  # taken here, so this test itself passes
