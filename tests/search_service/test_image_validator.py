"""The official IIIF Image API validator against the real server: `iiif-search serve --image-root DIR` on a free port.

Level 1 of 3.0 (24 tests) and of 2.x against the 2.1 endpoint (21 tests) must
pass, but for one request where the validator and the 3.0 text disagree (below);
the level 2 tests of the features this server claims beyond level 1 must pass too.
Requests no HTTP client library would send (literal `..`) go through http.client to
the same server.

`size_noup` (3.0) ends by asking `full/!2000,3000` of the 1000 x 1000 image and
expects a 400. Image API 3.0 §4.2 says `!w,h` returns an image "as large as possible
but not larger than the extracted region, w or h", here the whole image at
1000 x 1000, and `!w,h` never asks for more than the region, so its 400 rule does
not apply (iipsrv#271 / pull request #287, cantaloupe#600 read it so too). Clover asks
`!w,h` of every hit's word box for its thumbnail, mostly larger than the word (#12).
The test below checks that the validator fails on that request alone, and
`test_size_noup_requests` makes the same five requests and checks each answer.
"""

from __future__ import annotations

import http.client
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

IDENTIFIER = "67352ccc-d1b0-11e1-89ae-279075081939"
BIN = Path(sys.executable).parent
# Level 2 tests of what info.json claims above level 1 (png, color and gray, regionByPct,
# sizeByConfinedWh, sizeByPct, canonical and profile link headers).
EXTRA_TESTS = [
    "format_png",
    "quality_color",
    "quality_grey",
    "region_percent",
    "size_bwh",
    "size_percent",
    "linkheader_canonical",
    "linkheader_profile",
]


#: Validator tests that fail because the spec's text asks otherwise (module docstring), by version.
SPEC_OVER_VALIDATOR = {"3.0": ["size_noup"]}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, test_data: Path) -> Iterator[str]:
    """`iiif-search serve` in a subprocess, serving the validator's image from an image root; yields host:port."""
    tmp = tmp_path_factory.mktemp("live")
    root = tmp / "images"
    root.mkdir()
    shutil.copy(test_data / "image-api-validator" / f"{IDENTIFIER}.png", root)
    (tmp / "secret.png").write_bytes((root / f"{IDENTIFIER}.png").read_bytes())
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IIIF_SEARCH_")}
    server = subprocess.Popen(
        [
            str(BIN / "iiif-search"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--data-dir",
            str(tmp / "data"),
            "--image-root",
            str(root),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                output = server.stdout.read().decode() if server.stdout else ""
                pytest.fail(f"iiif-search serve exited with {server.returncode}:\n{output}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("iiif-search serve did not start within 30 s")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


def validate(server: str, prefix: str, version: str, *options: str) -> tuple[int, str]:
    """Run iiif-validate.py; return its exit status and output."""
    result = subprocess.run(
        [
            sys.executable,
            str(BIN / "iiif-validate.py"),
            "-s",
            server,
            "-p",
            prefix,
            "-i",
            IDENTIFIER,
            f"--version={version}",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def summary(output: str) -> tuple[int, int]:
    """(tests run, failures) from the validator's last line, "Done (24 tests, 0 failures)"."""
    match = re.search(r"Done \((\d+) tests, (\d+) failures\)", output)
    assert match, output
    return int(match.group(1)), int(match.group(2))


@pytest.mark.parametrize(
    ("prefix", "version", "tests"),
    [
        ("iiif/image/3", "3.0", 24),
        ("iiif/image/2", "2.0", 21),  # the validator's 2.x suite; the endpoint is 2.1
    ],
)
def test_validator_level_1(live_server: str, prefix: str, version: str, tests: int) -> None:
    status, output = validate(live_server, prefix, version, "--level", "1")
    expected_failures = SPEC_OVER_VALIDATOR.get(version, [])
    assert (status, summary(output)) == (len(expected_failures), (tests, len(expected_failures))), output
    failed = re.findall(r"\[\d+\] test (\w+) FAIL", output)
    assert failed == expected_failures, output
    assert output.count(" PASS") == tests - len(expected_failures)


def test_size_noup_requests(live_server: str) -> None:
    """The validator's size_noup requests: the four that ask for more than the region are
    400s; `!2000,3000` is the whole 1000 x 1000 image (3.0 §4.2, module docstring)."""
    host, port = live_server.split(":")
    for size, status in (("1500,1500", 400), (",1500", 400), ("1500,", 400), ("pct:200", 400), ("!2000,3000", 200)):
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", f"/iiif/image/3/{IDENTIFIER}/full/{size}/0/default.jpg")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == status, (size, response.status, body[:200])
        if status == 200:
            with Image.open(io.BytesIO(body)) as image:
                assert image.size == (1000, 1000)


@pytest.mark.parametrize(("prefix", "version"), [("iiif/image/3", "3.0"), ("iiif/image/2", "2.0")])
def test_validator_on_the_claimed_extras(live_server: str, prefix: str, version: str) -> None:
    status, output = validate(live_server, prefix, version, *(f"--test={name}" for name in EXTRA_TESTS))
    assert (status, summary(output)) == (0, (len(EXTRA_TESTS), 0)), output


@pytest.mark.parametrize(
    "path",
    [
        f"/iiif/image/3/../{IDENTIFIER}/info.json",
        "/iiif/image/3/../../secret/info.json",
        "/iiif/image/3/../secret/full/max/0/default.jpg",
        "/iiif/image/3/..%2Fsecret/info.json",
        "/iiif/image/3/..%2F..%2Fsecret/full/max/0/default.jpg",
        "/iiif/image/3/%2Fetc%2Fpasswd/info.json",
        "/iiif/image/3/./secret/info.json",
    ],
)
def test_raw_traversal_on_the_real_server(live_server: str, path: str) -> None:
    host, port = live_server.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)  # sent as is: http.client does not remove dot segments
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status in (400, 404), (path, response.status)
    assert not body.startswith(b"\x89PNG") and not body.startswith(b"\xff\xd8")
