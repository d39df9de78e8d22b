"""Hostile requests (#6): every search, autocomplete, manifest and image URL, with random, over-long,
non-UTF-8 and injection-shaped values, unknown books and path traversal, sent as raw bytes to the
live server of the session (tests/reliability/conftest.py).

Each answer must be a clean refusal or a normal answer: a status in the route's allowed set
(never 500, 502, 503 or 504; 501 only where Image API 3.0 §7.3 asks for it), a JSON error body
of the one shape for the JSON routes and plain text for the image routes, no traceback and no
server path in any body, and the server still answering `seed` exactly as before
(`service.check()`). Literal `..` traversal on the image routes is also in
tests/search_service/test_image_validator.py; here it is every route and more shapes.
"""

from __future__ import annotations

import json
import random
import socket
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.reliability.conftest import SEED_ID, Service

SEARCH_ROUTES = [f"/iiif/{SEED_ID}/search/1", f"/iiif/{SEED_ID}/search/2", "/iiif/search/1", "/iiif/search/2"]
AUTOCOMPLETE_ROUTES = [
    f"/iiif/{SEED_ID}/autocomplete/1",
    f"/iiif/{SEED_ID}/autocomplete/2",
    "/iiif/autocomplete/1",
    "/iiif/autocomplete/2",
]
# 414: a request line over the server's limit (max_url_bytes, 8 KB: the 10,000-character value).
JSON_OK = {200, 400, 404, 414}
IMAGE_OK = {200, 303, 400, 404, 501}

# Values a person, a crawler or an attacker might put in any parameter; percent-encoded on the wire.
HOSTILE = {
    "empty": "",
    "space": " ",
    "quote": '"',
    "quotes-400": '"' * 400,
    "star": "*",
    "stars": "*" * 300,
    "prefixes-160": " ".join(["a*"] * 160),
    "words-33": " ".join(f"w{i}" for i in range(33)),
    "phrase-65": '"' + " ".join(["le"] * 65) + '"',
    "sql": "' OR 1=1 --",
    "sql-union": "1 UNION SELECT password FROM users",
    "script": "<script>alert(1)</script>",
    "template": "{{7*7}} ${7*7} #{7*7}",
    "log4j": "${jndi:ldap://127.0.0.1/x}",
    "whoosh-syntax": "text:inca AND book:* OR kind:book",
    "whoosh-range": "canvas:[0 TO 99999]",
    "regex": ".*(a+)+$",
    "json": '{"$gt": ""}',
    "traversal": "../../../../etc/passwd",
    "nul": "a\x00b",
    "crlf": "a\r\nSet-Cookie: x=1",
    "control": "".join(chr(c) for c in range(1, 32)),
    "bidi-zero-width": "\u202epérou\u200b\ufeff",
    "combining": "e" + "\u0301" * 200,
    "emoji": "📚🔍" * 20,
    "long-s-ligature": "ſtraſſe ﬁn",
    "private-use": "\ue000\U000f0000",
    "number-huge": "9" * 400,
    "negative": "-1",
    "float": "1e308",
    "hex": "0x10",
    "over-long": "a" * 501,
    "over-long-10k": "é" * 10_000,
}
# Raw bytes that are not UTF-8, percent-encoded and not.
NON_UTF8 = {
    "latin1": b"p%E9rou",
    "lone-continuation": b"%80%80",
    "overlong-dot": b"%C0%AE%C0%AE",
    "ff-fe": b"%FF%FE",
    "half-utf8": b"%C3",
    "surrogate": b"%ED%A0%80",
}


SENT: Counter[int] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    print(
        f"\nhostile requests: {sum(SENT.values())} sent as raw bytes; statuses "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(SENT.items()))}"
    )


def raw_get(
    service: Service, target: bytes, method: bytes = b"GET", timeout: float = 30
) -> tuple[int, dict[str, str], bytes]:
    """Send one request exactly as given (no client normalises it) and read the whole answer."""
    with socket.create_connection(("127.0.0.1", service.server.port), timeout=timeout) as sock:
        sock.sendall(method + b" " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    SENT[status] += 1
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunk(body)
    return status, headers, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def assert_clean(status: int, headers: dict[str, str], body: bytes, allowed: set[int], target: bytes) -> None:
    assert status in allowed, (target[:200], status, body[:300])
    assert b"Traceback" not in body and b"/tmp/" not in body and b"site-packages" not in body, (
        target[:200],
        body[:300],
    )
    if status >= 400 and headers.get("content-type", "").startswith("application/json"):
        error = json.loads(body)
        assert set(error) <= {"error", "status", "parameter"} and error["status"] == status, error


def encode(value: str) -> bytes:
    return quote(value, safe="").encode()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_values_in_every_search_parameter(service: Service, name: str) -> None:
    value = encode(HOSTILE[name])
    for route in SEARCH_ROUTES + AUTOCOMPLETE_ROUTES:
        params = ["q", "motivation", "date", "user"] + (["page"] if "search" in route else ["min"])
        for param in params:
            query = b"q=inca&" + param.encode() + b"=" + value if param != "q" else b"q=" + value
            target = route.encode() + b"?" + query
            status, headers, body = raw_get(service, target)
            assert_clean(status, headers, body, JSON_OK, target)
            if status == 200:
                assert json.loads(body)  # a whole JSON document, even for odd input
    service.check(f"requests: {name} in every search and autocomplete parameter")


@pytest.mark.parametrize("name", sorted(NON_UTF8))
def test_non_utf8_everywhere(service: Service, name: str) -> None:
    value = NON_UTF8[name]
    raw = value.replace(b"%", b"").decode("ascii")
    unencoded = bytes.fromhex(raw) if all(c in "0123456789ABCDEFabcdef" for c in raw) else value
    targets = [route.encode() + b"?q=" + v for route in SEARCH_ROUTES + AUTOCOMPLETE_ROUTES for v in (value, unencoded)]
    targets += [b"/iiif/" + v + b"/search/1?q=inca" for v in (value, unencoded)]
    targets += [b"/iiif/" + v + b"/manifest" for v in (value, unencoded)]
    for target in targets:
        status, headers, body = raw_get(service, target)
        assert_clean(status, headers, body, JSON_OK, target)
    for prefix in (b"/iiif/image/3/", b"/iiif/image/2/"):
        for v in (value, unencoded):
            for suffix in (b"/info.json", b"/full/max/0/default.jpg", b""):
                target = prefix + v + suffix
                status, headers, body = raw_get(service, target)
                assert_clean(status, headers, body, IMAGE_OK, target)
    service.check(f"requests: non-UTF-8 ({name}) in paths and parameters")


def test_random_parameters(service: Service) -> None:
    """Seeded random strings (any code point, any length up to 2,000) in q, page and min."""
    rng = random.Random(6)
    sent = 0
    for _ in range(150):
        length = rng.choice([1, 5, 40, 300, 2000])
        text = "".join(
            chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0xD800), rng.randrange(0xE000, 0x110000)]))
            for _ in range(length)
        )
        route = rng.choice(SEARCH_ROUTES + AUTOCOMPLETE_ROUTES)
        param = rng.choice(["q", "page" if "search" in route else "min", "motivation"])
        target = route.encode() + (b"?q=inca&" if param != "q" else b"?") + param.encode() + b"=" + encode(text)
        status, headers, body = raw_get(service, target)
        assert_clean(status, headers, body, JSON_OK, target)
        sent += 1
    assert sent == 150
    service.check("requests: 150 random parameters")


@pytest.mark.parametrize(
    "book",
    [
        "nope",
        "..",
        "%2e%2e",
        "..%2f..%2fetc",
        "%2Fetc%2Fpasswd",
        "seed%00",
        "seed%20",
        "SEED",
        "seed~x",
        "x" * 5000,
        "%3Cscript%3E",
        "seed%2F..%2Fseed",
        "*",
        "%E2%80%AE",
    ],
)
def test_unknown_books(service: Service, book: str) -> None:
    for route in ("search/1?q=inca", "search/2?q=inca", "autocomplete/1?q=in", "autocomplete/2?q=in", "manifest"):
        target = f"/iiif/{book}/{route}".encode()
        status, headers, body = raw_get(service, target)
        assert_clean(status, headers, body, {400, 404}, target)
        assert b"inca" not in body or status != 200
    service.check(f"requests: unknown book {book[:20]}")


TRAVERSALS = [
    "../good",
    "..%2Fgood",
    "%2e%2e%2fgood",
    "%2E%2E/%2E%2E/etc/passwd",
    "..%5Cgood",
    "%2Fetc%2Fpasswd",
    "%252e%252e%252fgood",
    "good%00.jpg",
    "good%2500",
    ".good",
    "~",
    "seed~..%2F..%2Fetc%2Fpasswd",
    "%7E",
    "x" * 4000,
    "good%2F..%2Fgood",
    "file:%2F%2F%2Fetc%2Fpasswd",
    "http:%2F%2F127.0.0.1%2Fgood",
]
IMAGE_TAILS = ["info.json", "full/max/0/default.jpg", "0,0,10,10/10,/0/default.png", ""]


@pytest.mark.parametrize("identifier", TRAVERSALS)
def test_path_traversal_in_image_identifiers(service: Service, identifier: str) -> None:
    for version in (3, 2):
        for tail in IMAGE_TAILS:
            target = f"/iiif/image/{version}/{identifier}/{tail}".rstrip("/").encode()
            status, headers, body = raw_get(service, target)
            assert_clean(status, headers, body, {303, 400, 404}, target)
            # Nothing outside the image root is ever served: no image bytes, no passwd.
            assert not body.startswith((b"\x89PNG", b"\xff\xd8")) and b"root:" not in body, target
    service.check(f"requests: image identifier {identifier[:30]}")


IMAGE_PARAMETERS = [
    "full/99999999999999999999,/0/default.jpg",
    "full/max/0/default.gif",
    "full/max/0/default",
    "full/max/0/.jpg",
    "pct:-1,0,10,10/max/0/default.jpg",
    "pct:0,0,1e308,10/max/0/default.jpg",
    "0,0,0,0/max/0/default.jpg",
    "-1,-1,10,10/max/0/default.jpg",
    "99999,99999,10,10/max/0/default.jpg",
    "full/0,/0/default.jpg",
    "full/!0,0/0/default.jpg",
    "full/^max/0/default.jpg",
    "full/pct:100000/0/default.jpg",
    "full/max/360.5/default.jpg",
    "full/max/-90/default.jpg",
    "full/max/!0/default.jpg",
    "full/max/nan/default.jpg",
    "full/max/0/bitonal.jpg",
    "full/max/0/default.jpg%00.png",
    "square/,0/0/default.jpg",
    "full/10000,10000/0/default.jpg",
    "full/max/0/default.jpg/x",
    "%ff/max/0/default.jpg",
    "full/%20max/0/default.jpg",
    "full/max/0/default.JPG",
]


@pytest.mark.parametrize("version", [3, 2])
def test_hostile_image_parameters(service: Service, version: int) -> None:
    for identifier in ("good", "truncated", "nope"):
        for parameters in IMAGE_PARAMETERS:
            target = f"/iiif/image/{version}/{identifier}/{parameters}".encode()
            status, headers, body = raw_get(service, target)
            assert_clean(status, headers, body, IMAGE_OK, target)
            if status >= 400:
                assert headers.get("content-type", "").startswith("text/plain"), (target, headers)
    service.check(f"requests: hostile Image API {version} parameters")


@pytest.mark.parametrize("method", [b"HEAD", b"OPTIONS", b"POST", b"PUT", b"DELETE", b"TRACE", b"PATCH"])
def test_other_methods(service: Service, method: bytes) -> None:
    for route in [
        SEARCH_ROUTES[0] + "?q=inca",
        AUTOCOMPLETE_ROUTES[0] + "?q=in",
        f"/iiif/{SEED_ID}/manifest",
        "/iiif/image/3/good/info.json",
        "/iiif/image/3/good/full/max/0/default.jpg",
    ]:
        target = route.encode()
        status, _headers, body = raw_get(service, target, method=method)
        assert status in {200, 204, 405}, (method, route, status)
        assert b"Traceback" not in body
    service.check(f"requests: {method.decode()} on every route")


def test_viewer_pages_escape_what_they_echo(service: Service) -> None:
    script = "<script>alert(1)</script>"
    for viewer in ("mirador", "mirador3", "uv"):
        for params in (
            f"manifest=/iiif/{SEED_ID}/manifest&q={quote(script)}",
            f"manifest={quote(script)}",
            "manifest=javascript:alert(1)",
            f"manifest=/iiif/{SEED_ID}/manifest&q={quote('</script><script>x()')}",
        ):
            target = f"/viewer/{viewer}?{params}".encode()
            status, headers, body = raw_get(service, target)
            assert_clean(status, headers, body, {200, 400, 404, 503}, target)
            assert b"<script>alert(1)" not in body and b"</script><script>x()" not in body, target
    service.check("requests: script in viewer parameters")
