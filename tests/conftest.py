"""Fixtures shared by every test package: where the shared test data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The shared data sits beside the clone (../shared), in CI as on a developer's machine;
# the product itself never reads it.
SHARED = (REPO.parent / "shared").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"shared test data not found at {path}: clone the project beside ../shared")
    return path


@pytest.fixture(scope="session")
def shared_specs() -> Path:
    return SHARED / "specs"
