"""Catch a test that reads files beside the checkout: a clone must run its tests alone (#11).

The tests' data lives in tests/data. Folders next to the checkout (a data folder a team
keeps beside its clones, other worktrees) exist on one machine and not in a fresh clone,
so a test that reads them passes there and fails for everyone else. An audit hook (PEP 578)
sees every file the test process opens for reading and every folder it lists; those in a
sibling folder of the checkout are recorded, and tests/conftest.py fails the test that read
them. Left alone: hidden siblings (`~/.cache` when the clone sits in a home folder, where
tools keep caches), temporary folders (`tmp*`, `pytest-of-*`, for a clone in /tmp), the
Python installation, and everything when the checkout's parent is the filesystem root (its
siblings are then the system's folders). Child processes (Tesseract, Chromium) are not
watched; they read paths the tests give them, and the tests' own reads are watched first.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT
#: First names of sibling folders that are never test data: caches, temporary folders.
_EXEMPT_PREFIXES = (".", "tmp", "pytest-of-")


class ReadGuard:
    """Records the paths read or listed in a sibling folder of `repo` (see the module docstring)."""

    def __init__(self, repo: Path) -> None:
        self.repo = Path(os.path.abspath(repo))
        self.parent = self.repo.parent
        self.python = [Path(os.path.abspath(p)) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
        self.active = self.parent != Path(self.parent.anchor)
        self.found: list[str] = []

    def beside_the_checkout(self, path: str) -> bool:
        """True for a path in a sibling folder of the checkout that may hold data."""
        absolute = Path(os.path.abspath(path))
        if not absolute.is_relative_to(self.parent) or absolute.is_relative_to(self.repo):
            return False
        parts = absolute.relative_to(self.parent).parts
        if not parts or parts[0].startswith(_EXEMPT_PREFIXES):
            return False
        return not any(absolute.is_relative_to(python) for python in self.python)

    def audit(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook: runs on every event of the process, so it stays cheap and does no I/O."""
        if not self.active:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(mode, str) and any(c in mode for c in "wax+"):
                return  # written files are output, not data the test depends on
            if mode is None and isinstance(flags, int) and flags & _WRITE_FLAGS:
                return
        elif event in ("os.listdir", "os.scandir"):
            path = args[0]
        else:
            return
        if isinstance(path, (str, bytes, os.PathLike)):
            name = os.fsdecode(path)
            if self.beside_the_checkout(name):
                self.found.append(name)

    def take(self) -> list[str]:
        """The paths recorded since the last call, each once, in the order first seen."""
        found, self.found = list(dict.fromkeys(self.found)), []
        return found
