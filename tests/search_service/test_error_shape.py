"""One JSON error shape for every search, autocomplete and manifest error (as datasette's test_error_shape.py pins its own).

`{"error": "...", "status": N}` plus `"parameter"` when one request parameter is at
fault; the HTTP status equals `status`; errors are never cached and carry CORS.
"""

from __future__ import annotations

import httpx
import pytest

CASES = [
    # (url, status, parameter)
    ("/iiif/fish/search/1", 400, "q"),
    ("/iiif/fish/search/2?q=", 400, "q"),
    ("/iiif/search/1?q=%20%20", 400, "q"),
    ("/iiif/fish/search/2?q=" + "x" * 501, 400, "q"),
    ("/iiif/fish/search/1?q=" + "+".join(f"w{i}" for i in range(40)), 400, "q"),  # more words than a query may hold
    ("/iiif/fish/search/1?q=de&page=abc", 400, "page"),
    ("/iiif/fish/search/2?q=de&page=-1", 400, "page"),
    ("/iiif/fish/search/2?q=de&page=1.5", 400, "page"),
    ("/iiif/search/2?q=de&page=" + "9" * 5000, 400, "page"),
    ("/iiif/fish/autocomplete/1", 400, "q"),
    ("/iiif/autocomplete/2?q=", 400, "q"),
    ("/iiif/fish/autocomplete/2?q=de&min=lots", 400, "min"),
    ("/iiif/fish/autocomplete/1?q=" + "x" * 501, 400, "q"),
    ("/iiif/unknown/search/1?q=de", 404, None),
    ("/iiif/unknown/search/2?q=de", 404, None),
    ("/iiif/unknown/autocomplete/1?q=de", 404, None),
    ("/iiif/unknown/autocomplete/2?q=de", 404, None),
    ("/iiif/unknown/manifest", 404, None),
    ("/iiif/fish/search/3?q=de", 404, None),
]


@pytest.mark.parametrize(("url", "status", "parameter"), CASES)
async def test_error_shape(client: httpx.AsyncClient, url: str, status: int, parameter: str | None) -> None:
    response = await client.get(url)
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == ({"error", "status", "parameter"} if parameter else {"error", "status"})
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert body.get("parameter") == parameter


@pytest.mark.parametrize(("url", "status", "parameter"), CASES[:4])
async def test_head_of_an_error_has_no_body(
    client: httpx.AsyncClient, url: str, status: int, parameter: str | None
) -> None:
    response = await client.head(url)
    assert response.status_code == status and response.content == b""


async def test_error_messages_say_what_to_do(client: httpx.AsyncClient) -> None:
    too_long = (await client.get("/iiif/fish/search/1", params={"q": "x" * 10_000})).json()
    assert too_long["error"] == "q is 10000 characters long; the limit is 500"
    page = (await client.get("/iiif/fish/search/1?q=de&page=x")).json()
    assert page["error"] == "page must be a whole number, 0 for the first page"
