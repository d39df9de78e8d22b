"""Helpers shared by the benchmarks: machine description, commit, and test books built from real OCR."""

from __future__ import annotations

import gzip
import json
import os
import platform
import subprocess
from pathlib import Path

from lxml import etree, html

REPO = Path(__file__).resolve().parents[1]
#: The real test files (sources and licences in tests/data/README.md); the benchmarks read them too.
TEST_DATA = REPO / "tests" / "data"
#: A whole book in one hOCR file: 347 pages of *Histoire du Pérou* (1840), stored gzipped.
PERU_HOCR = TEST_DATA / "ocr/hocr/solr-ocrhighlighting/google1000_histoire_du_perou_1840_347pages.hocr.html.gz"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def commit(checkout: Path = REPO) -> str:
    """The short commit id of this checkout (or of another one, e.g. a worktree)."""
    try:
        return subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def split_hocr_pages(source: Path, out_dir: Path) -> list[tuple[Path, int, int]]:
    """Write each ocr_page of a multi-page hOCR file (gzipped or not) as its own hOCR file: (path, width, height)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes()
    tree = html.fromstring(gzip.decompress(data) if source.suffix == ".gz" else data)
    pages = []
    for _n, page in enumerate(tree.iter("div"), 1):
        if "ocr_page" not in (page.get("class") or "").split():
            continue
        bbox = [int(v) for v in page.get("title", "").split("bbox", 1)[1].split(";")[0].split()]
        doc = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'/>"
            "<meta name='ocr-capabilities' content='ocr_page ocr_line ocrx_word'/></head><body>"
            + etree.tostring(page, encoding="unicode", method="html")
            + "</body></html>"
        )
        path = out_dir / f"p{len(pages) + 1:04d}.hocr"
        path.write_text(doc, encoding="utf-8")
        pages.append((path, bbox[2], bbox[3]))
    return pages


def hocr_manifest(pages: list[tuple[Path, int, int]], manifest_id: str, repeat: int = 1) -> dict:
    """A Presentation 3.0 manifest whose canvases link the given hOCR files (seeAlso), `repeat` times over."""
    items = []
    for r in range(repeat):
        for n, (path, width, height) in enumerate(pages):
            cid = f"{manifest_id}/canvas/{r * len(pages) + n + 1}"
            items.append(
                {
                    "id": cid,
                    "type": "Canvas",
                    "label": {"none": [str(r * len(pages) + n + 1)]},
                    "width": width,
                    "height": height,
                    "seeAlso": [{"id": path.resolve().as_uri(), "type": "Dataset", "format": "text/vnd.hocr+html"}],
                    "items": [
                        {
                            "id": f"{cid}/p",
                            "type": "AnnotationPage",
                            "items": [
                                {
                                    "id": f"{cid}/a",
                                    "type": "Annotation",
                                    "motivation": "painting",
                                    "target": cid,
                                    "body": {
                                        "id": f"{cid}/image.jpg",
                                        "type": "Image",
                                        "format": "image/jpeg",
                                        "width": width,
                                        "height": height,
                                    },
                                }
                            ],
                        }
                    ],
                }
            )
    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "id": manifest_id,
        "type": "Manifest",
        "label": {"fr": ["Histoire du Pérou (1840)"]},
        "language": ["fr"],
        "items": items,
    }


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
