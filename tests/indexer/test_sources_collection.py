"""Collections: v2 and v3 traversal, embedded and referenced members, cycles, depth cap, failures."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from indexer.errors import FetchError, IndexerError, SourceError
from indexer.fetch import Fetcher
from indexer.sources import read_source
from indexer.sources.collection import iter_manifests

Failures = list[tuple[str, IndexerError]]


def _collect(failures: Failures) -> Callable[[str, IndexerError], None]:
    return lambda where, error: failures.append((where, error))


def test_v2_spec_fixture_collection(manifests_dir: Path, local_iiif: Any) -> None:
    path = manifests_dir / "v2" / "iiif_spec_fixture_collection.json"
    listed = [m["@id"] for m in json.loads(path.read_bytes())["manifests"]]
    failures: Failures = []
    with local_iiif.fetcher() as fetcher:
        books = list(read_source(str(path), fetcher, on_error=_collect(failures)))
    assert local_iiif.requested == listed  # every member, in order, each once
    assert len(listed) == 55
    # Only fixture 19 is among the copies in tests/data (fixture 1 is there under its 2.0 URL).
    assert [b.manifest_id for b in books] == ["http://iiif.io/api/presentation/2.1/example/fixtures/19/manifest.json"]
    assert books[0].id == "iiif-io-api-presentation-2-1-example-fixtures-19-manifest-json"
    assert len(books[0].canvases) == 3
    assert len(failures) == 54
    assert all(isinstance(e, FetchError) and e.status == 404 for _, e in failures)


def test_v3_cookbook_newspaper_collection(manifests_dir: Path, local_iiif: Any) -> None:
    path = manifests_dir / "v3" / "cookbook" / "0068-newspaper__newspaper_title-collection.json"
    with local_iiif.fetcher() as fetcher:
        books = list(read_source(str(path), fetcher))
    assert [b.label for b in books] == ["Berliner Tageblatt - 1925-02-16", "Berliner Tageblatt - 1925-03-13"]
    assert [b.id for b in books] == [
        "iiif-io-api-cookbook-recipe-0068-newspaper-newspaper_issue_1-manifest-json",
        "iiif-io-api-cookbook-recipe-0068-newspaper-newspaper_issue_2-manifest-json",
    ]
    assert all(len(b.canvases) == 2 and b.version == 3 for b in books)


def test_wellcome_multi_volume_collection(manifests_dir: Path, local_iiif: Any) -> None:
    path = manifests_dir / "v3" / "wellcome_b2178081x_collection_v3.json"
    volumes = [
        "https://iiif-test.wellcomecollection.org/presentation/b2178081x_0002",
        "https://iiif-test.wellcomecollection.org/presentation/b2178081x_0003",
    ]
    # We have no copy of the two volumes: any real manifest stands in for them.
    local_iiif.alias(volumes[0], manifests_dir / "v3" / "wellcome_b21506115_fish_entrees_131canvases_search1_v3.json")
    local_iiif.alias(volumes[1], manifests_dir / "v2" / "stanford_fg165hz3589_with_search1.json")
    with local_iiif.fetcher() as fetcher:
        books = list(read_source(str(path), fetcher))
    assert local_iiif.requested == volumes
    assert [b.id for b in books] == [
        "iiif-test-wellcomecollection-org-presentation-b2178081x_0002",
        "iiif-test-wellcomecollection-org-presentation-b2178081x_0003",
    ]
    assert [b.source for b in books] == volumes
    assert [len(b.canvases) for b in books] == [131, 5]
    assert [b.version for b in books] == [3, 2]  # each member is sniffed, not assumed


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def test_self_containing_collection_terminates(
    http_server: Callable[[Path], str],
    fetcher: Fetcher,
    manifests_dir: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    base = http_server(tmp_path)
    shutil.copy(manifests_dir / "v2" / "stanford_sn904cj3429.json", tmp_path / "m.json")
    _write(
        tmp_path / "top.json",
        {
            "@context": "http://iiif.io/api/presentation/3/context.json",
            "id": f"{base}/top.json",
            "type": "Collection",
            "label": {"en": ["top"]},
            "items": [
                {"id": f"{base}/top.json", "type": "Collection"},  # itself
                {"id": f"{base}/m.json", "type": "Manifest"},
                {"id": f"{base}/sub.json", "type": "Collection"},
            ],
        },
    )
    _write(
        tmp_path / "sub.json",
        {  # a v2 collection listing its parent and the same manifest again
            "@id": f"{base}/sub.json",
            "@type": "sc:Collection",
            "label": "sub",
            "collections": [{"@id": f"{base}/top.json", "@type": "sc:Collection"}],
            "manifests": [{"@id": f"{base}/m.json", "@type": "sc:Manifest"}],
        },
    )
    with caplog.at_level(logging.WARNING, logger="indexer.sources"):
        books = list(read_source(f"{base}/top.json", fetcher))
    assert [b.source for b in books] == [f"{base}/m.json"]
    assert len(books[0].canvases) == 1
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 3


def test_depth_cap(tmp_path: Path, fetcher: Fetcher, http_server: Callable[[Path], str]) -> None:
    base = http_server(tmp_path)
    for level in range(5):
        _write(
            tmp_path / f"c{level}.json",
            {
                "id": f"{base}/c{level}.json",
                "type": "Collection",
                "label": {"none": [str(level)]},
                "items": [{"id": f"{base}/c{level + 1}.json", "type": "Collection"}],
            },
        )
    failures: Failures = []
    assert list(read_source(f"{base}/c0.json", fetcher, max_depth=2, on_error=_collect(failures))) == []
    assert [where for where, _ in failures] == [f"{base}/c3.json"]
    assert "nested more than 2 levels" in str(failures[0][1])
    with pytest.raises(SourceError, match="nested more than 2 levels"):
        list(read_source(f"{base}/c0.json", fetcher, max_depth=2))


def test_embedded_members_are_not_fetched(manifests_dir: Path, local_iiif: Any, tmp_path: Path) -> None:
    manifest = json.loads((manifests_dir / "v2" / "stanford_fg165hz3589_with_search1.json").read_bytes())
    inner = {"@id": "https://x/inner", "@type": "sc:Collection", "manifests": [manifest]}
    path = tmp_path / "c.json"
    _write(path, {"@id": "https://x/c", "@type": "sc:Collection", "collections": [inner]})
    with local_iiif.fetcher() as fetcher:
        books = list(read_source(str(path), fetcher))
    assert local_iiif.requested == []
    assert [b.id for b in books] == ["purl-stanford-edu-fg165hz3589-iiif-manifest"]


def test_failures_raise_without_on_error(tmp_path: Path, local_iiif: Any) -> None:
    path = tmp_path / "c.json"
    _write(path, {"id": "https://x/c", "type": "Collection", "items": [{"id": "https://x/gone", "type": "Manifest"}]})
    with local_iiif.fetcher() as fetcher, pytest.raises(FetchError, match="https://x/gone: HTTP 404"):
        list(read_source(str(path), fetcher))


def test_bad_members_are_reported_and_the_rest_read(manifests_dir: Path, local_iiif: Any, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    ok = "https://iiif.io/api/cookbook/recipe/0009-book-1/manifest.json"
    annotations = "https://iiif.io/api/cookbook/recipe/0068-newspaper/newspaper_issue_1-anno_p1.json"
    metadata_only = "https://www.loc.gov/item/2017498721/manifest.json"
    local_iiif.alias(metadata_only, manifests_dir / "v2" / "loc_2017498721.json")
    _write(
        path,
        {
            "id": "https://x/c",
            "type": "Collection",
            "items": [
                {"id": "file:///etc/passwd", "type": "Manifest"},
                {"id": annotations, "type": "Manifest"},
                {"id": metadata_only, "type": "Manifest"},
                {"type": "Manifest"},
                {"id": ok, "type": "Manifest"},
            ],
        },
    )
    failures: Failures = []
    with local_iiif.fetcher() as fetcher:
        books = list(read_source(str(path), fetcher, on_error=_collect(failures)))
    assert [b.manifest_id for b in books] == [ok]
    assert [where for where, _ in failures] == ["file:///etc/passwd", annotations, metadata_only]
    assert "not an http(s) URI" in str(failures[0][1])
    assert "type 'AnnotationPage'" in str(failures[1][1])
    assert "has no canvases" in str(failures[2][1])
    assert "file:///etc/passwd" not in local_iiif.requested


def test_an_id_is_refused_for_a_collection(manifests_dir: Path, local_iiif: Any) -> None:
    path = manifests_dir / "v3" / "cookbook" / "0068-newspaper__newspaper_title-collection.json"
    with (
        local_iiif.fetcher() as fetcher,
        pytest.raises(SourceError, match="--id names one book, but this is a Collection"),
    ):
        list(read_source(str(path), fetcher, book_id="paper"))
    assert local_iiif.requested == []


def test_iter_manifests_refuses_a_manifest(manifests_dir: Path, fetcher: Fetcher) -> None:
    data = json.loads((manifests_dir / "v2" / "stanford_sn904cj3429.json").read_bytes())
    with pytest.raises(SourceError, match="a Manifest, not a Collection"):
        list(iter_manifests(data, "m.json", fetcher))


def test_member_ids_stay_distinct(manifests_dir: Path, local_iiif: Any, tmp_path: Path) -> None:
    first, second = "https://x/book.1", "https://x/book-1"  # one slug for both
    local_iiif.alias(first, manifests_dir / "v2" / "stanford_sn904cj3429.json")
    local_iiif.alias(second, manifests_dir / "v2" / "bodleian_9cca8fdd.json")
    path = tmp_path / "c.json"
    _write(
        path,
        {
            "id": "https://x/c",
            "type": "Collection",
            "items": [{"id": first, "type": "Manifest"}, {"id": second, "type": "Manifest"}],
        },
    )
    with local_iiif.fetcher() as fetcher:
        ids = [b.id for b in read_source(str(path), fetcher)]
    assert ids[0] == "x-book-1"
    assert ids[1].startswith("x-book-1-") and len(ids[1]) == len("x-book-1-") + 10
