"""The viewer pages and the files they load, in-process (no browser, no npm needed).

A fake viewers folder shaped like npm's (`node_modules/mirador/dist/mirador.min.js`,
...) stands in for the real install, so these tests run anywhere; tests/browser/ drives
the real viewers.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from search_service.settings import Settings
from search_service.web import pages, viewers
from search_service.web.app import create_app
from tests.conftest import TEST_HOSTS

REPO = Path(__file__).resolve().parents[2]
BASE = "http://testserver"
MANIFEST = "https://example.org/iiif/book1/manifest"
CLOVER_BUILD = "3.3.8-0123456789ab"  # Clover's version and the bundle's hash (scripts/install-viewers)


def fake_viewers(root: Path) -> Path:
    """A viewers folder with the files the pages load, versions as pinned in viewers/."""
    files = {
        "node_modules/mirador/dist/mirador.min.js": "/* mirador 4 */",
        "node_modules/mirador/dist/mirador.min.js.map": "{}",
        "node_modules/universalviewer/dist/uv.css": ".uv{}",
        "node_modules/universalviewer/dist/umd/UV.js": "/* uv */",
        "node_modules/universalviewer/dist/umd/1000.abc.js": "/* chunk */",
        "node_modules/universalviewer/dist/.hidden": "secret",
        "node_modules/universalviewer/secret.txt": "outside dist",
        "mirador3/node_modules/mirador/dist/mirador.min.js": "/* mirador 3 */",
        "clover/build/dist/clover.js": "/* clover bundle */",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package, version in (
        ("node_modules/mirador", "4.0.0"),
        ("node_modules/universalviewer", "4.4.0"),
        ("mirador3/node_modules/mirador", "3.4.3"),
        ("clover/build", CLOVER_BUILD),
    ):
        (root / package / "package.json").write_text(
            json.dumps({"name": package.rsplit("/", 1)[-1], "version": version})
        )
    return root


@pytest.fixture
def viewers_dir(tmp_path: Path) -> Path:
    return fake_viewers(tmp_path / "viewers")


def make_client(data_dir: Path, viewers: Path, **settings: object) -> httpx.AsyncClient:
    app = create_app(Settings(allowed_hosts=TEST_HOSTS, data_dir=data_dir, **settings))  # type: ignore[arg-type]
    app.state.viewers_dir = viewers
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


@pytest.fixture
async def client(tmp_path: Path, viewers_dir: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(tmp_path / "data", viewers_dir) as http:
        yield http


def page_config(text: str) -> dict[str, object]:
    """The JSON the page hands to its viewer script."""
    match = re.search(r'<script type="application/json" id="viewer-config">(.*?)</script>', text, re.S)
    assert match, "no viewer-config script in the page"
    config: dict[str, object] = json.loads(match.group(1))
    return config


def script_srcs(text: str) -> list[str]:
    return re.findall(r'<script src="([^"]+)"', text)


@pytest.mark.parametrize(
    ("key", "files"),
    [
        ("mirador", ["/viewer/static/mirador/4.0.0/mirador.min.js"]),
        ("mirador3", ["/viewer/static/mirador3/3.4.3/mirador.min.js"]),
        ("uv", ["/viewer/static/uv/4.4.0/umd/UV.js"]),
        ("clover", [f"/viewer/static/clover/{CLOVER_BUILD}/clover.js"]),
    ],
)
async def test_viewer_page_loads_the_viewer_with_manifest_and_query(
    client: httpx.AsyncClient, key: str, files: list[str]
) -> None:
    response = await client.get(f"/viewer/{key}", params={"manifest": MANIFEST, "q": "highwayman"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert page_config(response.text) == {"viewer": key, "manifest": MANIFEST, "q": "highwayman", "canvas": None}
    srcs = script_srcs(response.text)
    assert srcs[:-1] == files
    assert re.fullmatch(r"/viewer/assets/(mirador|uv|clover)-page\.js\?v=[0-9a-f]+", srcs[-1])
    for src in srcs:
        assert (await client.get(src)).status_code == 200
    assert "cdn" not in response.text.lower() and "unpkg" not in response.text


async def test_uv_page_loads_its_stylesheet(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/uv", params={"manifest": MANIFEST})
    assert '<link rel="stylesheet" href="/viewer/static/uv/4.4.0/uv.css">' in response.text
    assert (await client.get("/viewer/static/uv/4.4.0/uv.css")).text == ".uv{}"


async def test_no_query_means_none_in_the_config(client: httpx.AsyncClient) -> None:
    for q in (None, "", "   "):
        params = {"manifest": MANIFEST} | ({"q": q} if q is not None else {})
        response = await client.get("/viewer/mirador", params=params)
        assert page_config(response.text)["q"] is None


async def test_nav_links_switch_viewer_keeping_manifest_and_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/mirador", params={"manifest": MANIFEST, "q": "a b"})
    links = [html.unescape(h) for h in re.findall(r'<a href="(/viewer/[^"]+)"', response.text)]
    assert links == [
        "/viewer/mirador3?manifest=https%3A%2F%2Fexample.org%2Fiiif%2Fbook1%2Fmanifest&q=a+b",
        "/viewer/uv?manifest=https%3A%2F%2Fexample.org%2Fiiif%2Fbook1%2Fmanifest&q=a+b",
        "/viewer/clover?manifest=https%3A%2F%2Fexample.org%2Fiiif%2Fbook1%2Fmanifest&q=a+b",
    ]
    assert f'<a class="manifest" href="{MANIFEST}">' in response.text


@pytest.mark.parametrize(
    "q",
    [
        "</script><script>alert(1)</script>",
        "<!--<script>",
        '"; alert(1); "',
        "a\u2028\u2029 & <b>",
    ],
)
async def test_query_cannot_break_out_of_the_script(client: httpx.AsyncClient, q: str) -> None:
    response = await client.get("/viewer/mirador", params={"manifest": MANIFEST, "q": q})
    assert response.status_code == 200
    assert page_config(response.text)["q"] == q
    assert "<script>alert" not in response.text and "<b>" not in response.text
    assert response.text.count("<script") == response.text.count("</script>") == 3


async def test_manifest_url_is_escaped_in_attributes_and_script(client: httpx.AsyncClient) -> None:
    manifest = 'https://example.org/m?a=1&b="><script>alert(1)</script>'
    response = await client.get("/viewer/uv", params={"manifest": manifest})
    assert response.status_code == 200
    assert page_config(response.text)["manifest"] == manifest
    assert '"><script>' not in response.text
    assert 'href="https://example.org/m?a=1&amp;b=&quot;&gt;&lt;script&gt;' in response.text


async def test_a_path_is_a_manifest_on_this_server(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/mirador", params={"manifest": "/iiif/book1/manifest"})
    assert page_config(response.text)["manifest"] == f"{BASE}/iiif/book1/manifest"


async def test_a_path_follows_the_public_url(tmp_path: Path, viewers_dir: Path) -> None:
    async with make_client(tmp_path, viewers_dir, public_url="https://search.example.org/sub/") as http:
        response = await http.get("/viewer/uv", params={"manifest": "/iiif/book1/manifest"})
    assert page_config(response.text)["manifest"] == "https://search.example.org/sub/iiif/book1/manifest"


@pytest.mark.parametrize(
    "manifest",
    [
        "javascript:alert(1)",
        "data:application/json,{}",
        "file:///etc/passwd",
        "//evil.example.org/manifest",
        "https://exa mple.org/manifest",
        "https://example.org/\x00",
        "example.org/manifest",
        "https://" + "a" * 2000,
    ],
)
async def test_unusable_manifest_urls_get_a_400_form(client: httpx.AsyncClient, manifest: str) -> None:
    response = await client.get("/viewer/mirador", params={"manifest": manifest})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text and '<form class="open"' in response.text
    assert "viewer-config" not in response.text
    assert "javascript:" not in response.text


async def test_canvas_opens_the_viewer_there_and_follows_the_nav_links(client: httpx.AsyncClient) -> None:
    """A hit of the results page opens its book on the hit's canvas (#13)."""
    canvas = "https://example.org/iiif/book1/canvas/p3"
    response = await client.get("/viewer/mirador", params={"manifest": MANIFEST, "q": "a", "canvas": canvas})
    assert response.status_code == 200
    assert page_config(response.text)["canvas"] == canvas
    links = [html.unescape(h) for h in re.findall(r'<a href="(/viewer/[^"]+)"', response.text)]
    assert links and all(
        link.endswith("&canvas=https%3A%2F%2Fexample.org%2Fiiif%2Fbook1%2Fcanvas%2Fp3") for link in links
    )


@pytest.mark.parametrize("canvas", ["javascript:alert(1)", "p3", "https://exa mple.org/c", "https://" + "a" * 2000])
async def test_unusable_canvas_ids_get_a_400_form(client: httpx.AsyncClient, canvas: str) -> None:
    response = await client.get("/viewer/uv", params={"manifest": MANIFEST, "canvas": canvas})
    assert response.status_code == 400
    assert 'role="alert"' in response.text and "viewer-config" not in response.text
    assert "javascript:" not in response.text


async def test_too_long_query_gets_a_400(tmp_path: Path, viewers_dir: Path) -> None:
    async with make_client(tmp_path, viewers_dir, max_query_length=10) as http:
        assert (await http.get("/viewer/uv", params={"manifest": MANIFEST, "q": "x" * 10})).status_code == 200
        response = await http.get("/viewer/uv", params={"manifest": MANIFEST, "q": "x" * 11})
    assert response.status_code == 400
    assert "longer than 10 characters" in response.text


@pytest.mark.parametrize("key", ["mirador", "mirador3", "uv", "clover"])
async def test_without_manifest_the_page_asks_for_one(client: httpx.AsyncClient, key: str) -> None:
    response = await client.get(f"/viewer/{key}")
    assert response.status_code == 200
    assert f'<form class="open" method="get" action="/viewer/{key}">' in response.text
    assert "viewer-config" not in response.text


async def test_unknown_viewer_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/viewer/openseadragon", params={"manifest": MANIFEST})).status_code == 404
    assert (await client.get("/viewer/static/osd/1.0/osd.js")).status_code == 404


@pytest.mark.parametrize("key", ["mirador", "mirador3", "uv", "clover"])
async def test_missing_viewer_files_give_a_503_saying_how_to_install(tmp_path: Path, key: str) -> None:
    async with make_client(tmp_path, tmp_path / "no-viewers") as http:
        response = await http.get(f"/viewer/{key}", params={"manifest": MANIFEST, "q": "x"})
        assert response.status_code == 503
        assert "scripts/install-viewers" in response.text
        assert "viewer-config" not in response.text
        static = await http.get(f"/viewer/static/{key}/1.0.0/mirador.min.js")
        assert static.status_code == 503
        assert "scripts/install-viewers" in static.text


async def test_one_missing_file_counts_as_not_installed(client: httpx.AsyncClient, viewers_dir: Path) -> None:
    (viewers_dir / "node_modules/universalviewer/dist/uv.css").unlink()
    assert (await client.get("/viewer/uv", params={"manifest": MANIFEST})).status_code == 503
    assert (await client.get("/viewer/mirador", params={"manifest": MANIFEST})).status_code == 200


async def test_viewer_files_are_cached_for_a_year(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/static/uv/4.4.0/umd/1000.abc.js")
    assert response.status_code == 200
    assert response.text == "/* chunk */"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]
    assert "etag" in response.headers
    head = await client.head("/viewer/static/mirador3/3.4.3/mirador.min.js")
    assert head.status_code == 200 and head.content == b""


async def test_a_file_under_another_version_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/static/mirador/3.4.3/mirador.min.js")
    assert response.status_code == 404
    assert "4.0.0 is installed" in response.text


@pytest.mark.parametrize(
    "path",
    [
        "../package.json",
        "..%2Fpackage.json",
        "umd/..%2F..%2Fsecret.txt",
        "%2E%2E/secret.txt",
        ".hidden",
        "umd",
        "umd/",
        "umd//UV.js",
        "%2Fetc%2Fpasswd",
        "..%5Csecret.txt",
        "missing.js",
    ],
)
async def test_viewer_files_stay_inside_dist(client: httpx.AsyncClient, path: str) -> None:
    # httpx normalises plain `..` segments away before sending, so those reach another route.
    response = await client.get(f"/viewer/static/uv/4.4.0/{path}")
    assert response.status_code in (404, 307), response.text
    assert "outside dist" not in response.text and "secret\n" not in response.text and '"version"' not in response.text


async def test_symlinks_out_of_dist_are_refused(client: httpx.AsyncClient, viewers_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.js"
    outside.write_text("outside")
    (viewers_dir / "node_modules/universalviewer/dist/umd/link.js").symlink_to(outside)
    assert (await client.get("/viewer/static/uv/4.4.0/umd/link.js")).status_code == 404


async def test_own_assets_are_cached_only_under_their_hash(client: httpx.AsyncClient) -> None:
    page = await client.get("/viewer/mirador", params={"manifest": MANIFEST})
    css = re.search(r'<link rel="stylesheet" href="(/viewer/assets/site\.css\?v=[0-9a-f]+)">', page.text)
    assert css
    current = await client.get(css.group(1))
    assert current.status_code == 200 and "text/css" in current.headers["content-type"]
    assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = await client.get("/viewer/assets/site.css?v=000000")
    assert stale.headers["cache-control"] == "no-cache"
    assert (await client.get("/viewer/assets/..%2Fapp.py")).status_code == 404
    assert (await client.get("/viewer/assets/nothing.js")).status_code == 404


@pytest.mark.parametrize("key", ["mirador", "mirador3", "uv", "clover"])
async def test_viewer_pages_run_scripts_from_this_server_only(client: httpx.AsyncClient, key: str) -> None:
    """Markup that a manifest or search service from elsewhere gets into the page cannot run (#12)."""
    response = await client.get(f"/viewer/{key}", params={"manifest": MANIFEST, "q": "x"})
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "object-src 'none'" in policy
    # Every script the page has is a file from this server, or data that does not run.
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert all('src="/viewer/' in attrs or 'type="application/json"' in attrs for attrs in scripts), scripts


async def test_pages_are_not_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/viewer/mirador", params={"manifest": MANIFEST, "q": "x"})
    assert response.headers["cache-control"] == "no-cache"


def test_script_json_round_trips_and_hides_markup() -> None:
    value = {"q": "</script><!-- & \u2028", "n": 1}
    text = pages.script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


def test_pinned_versions_match_the_served_layout() -> None:
    """The versions pinned in viewers/ are the ones the README and the tests name."""
    main = json.loads((REPO / "viewers/package.json").read_text())
    m3 = json.loads((REPO / "viewers/mirador3/package.json").read_text())
    assert main["dependencies"] == {
        "@samvera/clover-iiif": "3.3.8",
        "mirador": "4.0.0",
        "react": "18.3.1",
        "react-dom": "18.3.1",
        "universalviewer": "4.4.0",
    }
    assert set(main["devDependencies"]) == {"esbuild"}
    assert m3["dependencies"]["mirador"].startswith("3.")
    for folder in ("viewers", "viewers/mirador3"):
        lock = json.loads((REPO / folder / "package-lock.json").read_text())
        package = json.loads((REPO / folder / "package.json").read_text())
        assert lock["packages"][""]["dependencies"] == package["dependencies"]
        assert lock["packages"][""].get("devDependencies") == package.get("devDependencies")
    # Clover's React build is bundled with React 18, never the React 19 that Mirador 4 can use.
    lock = json.loads((REPO / "viewers/package-lock.json").read_text())
    assert lock["packages"]["node_modules/react"]["version"] == "18.3.1"
    assert lock["packages"]["node_modules/@samvera/clover-iiif"]["version"] == "3.3.8"
    assert {v.package for v in viewers.VIEWERS.values()} == {
        "node_modules/mirador",
        "mirador3/node_modules/mirador",
        "node_modules/universalviewer",
        "clover/build",
    }


def test_install_script_is_valid_bash_and_executable() -> None:
    script = REPO / "scripts/install-viewers"
    assert script.stat().st_mode & 0o111
    subprocess.run(["bash", "-n", str(script)], check=True)
