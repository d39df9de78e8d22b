"""The `ocr` package's public names, and what its modules may import."""

from __future__ import annotations

import ast
from pathlib import Path

import ocr

OCR_DIR = Path(ocr.__file__).parent


def imports_of(path: Path) -> set[str]:
    """Top-level module names a source file imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_public_names_are_exported() -> None:
    expected = {
        "parse_ocr",
        "parse_ocr_pages",
        "detect_format",
        "ocr_image",
        "OcrCache",
        "Page",
        "Line",
        "Word",
        "Box",
        "OcrSettings",
        "OcrError",
        "MalformedOcr",
        "UnknownOcrFormat",
        "TesseractFailed",
        "TesseractTimeout",
        "MissingModel",
        "tokens",
        "fold",
    }
    assert set(ocr.__all__) == expected
    for name in ocr.__all__:
        assert getattr(ocr, name) is not None


def test_error_tree() -> None:
    for error in (ocr.MalformedOcr, ocr.UnknownOcrFormat, ocr.MissingModel, ocr.TesseractFailed, ocr.TesseractTimeout):
        assert issubclass(error, ocr.OcrError)
    assert issubclass(ocr.TesseractTimeout, ocr.TesseractFailed)
    assert str(ocr.MalformedOcr("p1.xml", "no Page", line=3)) == "p1.xml, line 3: no Page"


def test_ocr_imports_neither_indexer_nor_search_service() -> None:
    for path in OCR_DIR.glob("*.py"):
        assert not imports_of(path) & {"indexer", "search_service"}, path.name


def test_tesseract_and_lxml_each_have_their_modules() -> None:
    """Only tesseract.py (the binary) and engine.py (the warm engine's process) start processes; only the parsers read XML."""
    users = {
        name: sorted(path.name for path in OCR_DIR.glob("*.py") if name in imports_of(path))
        for name in ("subprocess", "lxml", "tesserocr")
    }
    assert users == {
        "subprocess": ["engine.py", "tesseract.py"],
        "lxml": ["alto.py", "hocr.py"],
        "tesserocr": ["engine.py"],
    }


def test_every_module_and_public_function_has_a_docstring() -> None:
    for path in OCR_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), path.name
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                assert ast.get_docstring(node), f"{path.name}: {node.name}"
