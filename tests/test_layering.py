"""Dependencies flow one way: search_service -> indexer -> ocr; each engine is imported by one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("ocr", {"indexer", "search_service"}), ("indexer", {"search_service"})],
)
def test_dependencies_flow_one_way(package: str, forbidden: set[str]) -> None:
    offenders = {str(p.relative_to(REPO)): _imports(p) & forbidden for p in _modules(package)}
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize(
    ("engine", "allowed"),
    [
        # The index package's modules that speak to Whoosh: schema, writes, snapshots, postings.
        (
            "whoosh",
            {
                "indexer/index/schema.py",
                "indexer/index/store.py",
                "indexer/index/snapshot.py",
                "indexer/index/postings.py",
                "indexer/index/postings_codec.py",
                "indexer/index/retiring_storage.py",
            },
        ),
        # Pixels: the image endpoint renders with it; the indexer only reads image headers.
        ("pyvips", {"search_service/image/render.py", "indexer/image_header.py"}),
        # The header reader's fallback where libvips is missing; the OCR's scaling of a page to its
        # text height (#21), on the image Tesseract reads (tesserocr takes PIL images).
        ("PIL", {"indexer/image_header.py", "ocr/resolution.py"}),
        # Tesseract is started in two places, each with OMP_THREAD_LIMIT=1 (#11): the command, and the
        # process that keeps a warm engine (#21), which alone imports tesserocr.
        ("subprocess", {"ocr/tesseract.py", "ocr/engine.py"}),
        ("tesserocr", {"ocr/engine.py"}),
    ],
)
def test_each_engine_has_one_home(engine: str, allowed: set[str]) -> None:
    users = {
        str(p.relative_to(REPO))
        for package in ("ocr", "indexer", "search_service")
        for p in _modules(package)
        if engine in _imports(p)
    }
    assert users <= allowed


def test_import_finder_sees_imports_inside_functions() -> None:
    # pyvips and PIL are imported inside functions (libvips loads slowly); ast.walk must see them.
    assert {"pyvips", "PIL"} <= _imports(REPO / "indexer" / "image_header.py")


def test_the_search_logic_knows_no_web_stack() -> None:
    # search_service/search/ is what an answer holds; search_service/web/ is how it travels.
    web = {"fastapi", "starlette", "uvicorn"}
    offenders = {}
    for path in _modules("search_service/search"):
        imported = _imports(path)
        modules = _full_imports(path)
        bad = (imported & web) | {m for m in modules if m.startswith("search_service.web")}
        if bad:
            offenders[str(path.relative_to(REPO))] = bad
    assert offenders == {}
    assert {"fastapi", "starlette"}.isdisjoint(_imports(REPO / "search_service" / "errors.py"))


def test_the_app_does_not_import_the_worker_processes() -> None:
    # workers.py starts processes that build the app; the app importing workers was a circle.
    assert "search_service.web.workers" not in _full_imports(REPO / "search_service" / "web" / "app.py")


def _full_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names
