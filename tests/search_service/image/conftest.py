"""Fixtures of the Image API tests: an image root of real and made-up images, an index with a folder book, clients.

The image root holds the validator's test image (1000 x 1000, ten by ten
coloured squares), a colour JPEG and a 16-bit grey PNG with alpha made here, a
decompression bomb (a valid 30000 x 30000 PNG of about 100 kB), a symlink that
stays inside the root and one that leaves it.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from indexer.index.records import BookRecord
from indexer.index.store import Store
from search_service.settings import Settings
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS

VALIDATOR_ID = "67352ccc-d1b0-11e1-89ae-279075081939"
BOOK_IMAGE_ID = "scans~0001"
BOMB_SIDE = 30_000
BASE = "http://testserver"


def write_bomb_png(path: Path, side: int = BOMB_SIDE) -> None:
    """A real, decodable side x side PNG of one colour: 1-bit grey, so it compresses to ~100 kB."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte "none", then a row of black bits
    compressor = zlib.compressobj(9)
    chunks = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    chunks.append(compressor.compress(row * (side % 1000)))
    chunks.append(compressor.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(chunks)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="session")
def validator_png(test_data: Path) -> Path:
    """The Image API validator's test image."""
    return test_data / "image-api-validator" / f"{VALIDATOR_ID}.png"


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory, validator_png: Path) -> Path:
    """A folder served with --image-root, plus a sibling file that must never be served."""
    base = tmp_path_factory.mktemp("images")
    root = base / "root"
    root.mkdir()
    shutil.copy(validator_png, root / validator_png.name)
    # A colour JPEG of 1300 x 700: wider than two tiles, with one odd edge.
    xy = pyvips.Image.xyz(1300, 700) % 256
    color = xy.bandjoin(xy[0] * 0 + 128).cast("uchar")
    color.copy(interpretation="srgb").jpegsave(str(root / "color.jpg"), Q=95)
    # A 16-bit grey PNG with alpha, which the derivative must flatten and reduce to 8 bits.
    grey = (pyvips.Image.xyz(600, 400)[0] * 100).cast("ushort")
    grey.bandjoin(grey * 0 + 65535).copy(interpretation="grey16").pngsave(str(root / "grey16.png"))
    write_bomb_png(root / "bomb.png")
    (root / ".hidden.png").write_bytes((root / "grey16.png").read_bytes())
    (root / "notes.txt").write_text("not an image")
    outside = base / "secret.png"
    shutil.copy(validator_png, outside)
    (root / "escape.png").symlink_to(outside)
    (root / "inside.jpg").symlink_to(root / "color.jpg")
    return root


@pytest.fixture(scope="session")
def book_dir(tmp_path_factory: pytest.TempPathFactory, validator_png: Path) -> Path:
    """A data dir whose index holds one folder book with one image, as `index-manifest DIR` records it."""
    data_dir = tmp_path_factory.mktemp("image-index")
    scans = data_dir.parent / (data_dir.name + "-scans")
    scans.mkdir()
    shutil.copy(validator_png, scans / "0001.png")
    record = BookRecord(
        id="scans",
        label="Scans",
        manifest_id="urn:scans",
        version=3,
        source=str(scans),
        manifest={},
        images={BOOK_IMAGE_ID: str(scans / "0001.png")},
    )
    Store(data_dir).replace_book(record, [])
    return data_dir


@pytest.fixture
def image_settings(book_dir: Path, image_root: Path, tmp_path: Path) -> Settings:
    """Settings with the folder book's index, the image root, and derivatives of this test only."""
    data_dir = tmp_path / "data"
    shutil.copytree(book_dir, data_dir)
    return Settings(allowed_hosts=TEST_HOSTS, data_dir=data_dir, image_roots=[image_root], cache_max_age=600)


@pytest.fixture
def make_image_client(image_settings: Settings) -> Callable[..., httpx.AsyncClient]:
    """In-process clients over apps built with `image_settings` changed by keyword arguments."""

    def make(**overrides: Any) -> httpx.AsyncClient:
        settings = image_settings.model_copy(update=overrides)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url=BASE)

    return make


@pytest.fixture
async def image_client(make_image_client: Callable[..., httpx.AsyncClient]) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with the default limits."""
    async with make_image_client() as client:
        yield client
