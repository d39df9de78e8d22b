"""Identifiers reach indexed folder images and image-root files only: no traversal, no symlink escape."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from indexer.sources import folder
from search_service.errors import UnknownImage
from search_service.image.resolve import IMAGE_SUFFIXES, resolve_image, root_identifiers

VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"


def test_a_root_serves_its_images_by_stem(image_root: Path) -> None:
    assert set(root_identifiers(image_root)) == {VALIDATOR_ID, "color", "grey16", "bomb", "escape", "inside"}
    assert resolve_image("color", {}, [image_root]) == (image_root / "color.jpg").resolve()


def test_a_symlink_inside_the_root_is_served(image_root: Path) -> None:
    assert resolve_image("inside", {}, [image_root]) == (image_root / "color.jpg").resolve()


@pytest.mark.parametrize(
    "identifier",
    [
        "escape",  # a symlink to a file outside the root
        "..",
        "../root/color",
        "../secret",
        "/etc/passwd",
        "color.jpg",  # identifiers are stems
        ".hidden",
        "notes",
        "sub/color",
        "..\\color",
        "color\x00",
        "",
    ],
)
def test_nothing_else_is_reachable(image_root: Path, identifier: str) -> None:
    with pytest.raises(UnknownImage):
        resolve_image(identifier, {}, [image_root])


def test_absolute_paths_do_not_resolve(image_root: Path) -> None:
    with pytest.raises(UnknownImage):
        resolve_image(str((image_root / "color.jpg").resolve()), {}, [image_root])
    with pytest.raises(UnknownImage):
        resolve_image(str((image_root / "color").resolve()), {}, [image_root, Path("/")])


def test_indexed_images_come_first(image_root: Path, validator_png: Path) -> None:
    indexed = {"color": str(validator_png), "book~0001": str(validator_png)}
    assert resolve_image("color", indexed, [image_root]) == validator_png
    assert resolve_image("book~0001", indexed, [image_root]) == validator_png


@pytest.mark.parametrize("path", ["/nonexistent/0001.png", "/etc/passwd"])
def test_indexed_files_that_are_gone_or_no_images_are_404(path: str) -> None:
    with pytest.raises(UnknownImage):
        resolve_image("book~0001", {"book~0001": path}, [])


def test_a_new_file_in_a_root_is_seen(tmp_path: Path, validator_png: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert root_identifiers(root) == {}
    shutil.copy(validator_png, root / "late.PNG")
    # Some file systems keep second-granularity mtimes; make the change visible regardless.
    stat = root.stat()
    os.utime(root, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert resolve_image("late", {}, [root]) == (root / "late.PNG").resolve()


def test_a_missing_root_serves_nothing(tmp_path: Path) -> None:
    with pytest.raises(UnknownImage):
        resolve_image("x", {}, [tmp_path / "missing"])


def test_the_same_formats_as_the_folder_reader() -> None:
    # A page that index-manifest accepts from a folder must be servable here.
    assert IMAGE_SUFFIXES == folder.IMAGE_SUFFIXES
