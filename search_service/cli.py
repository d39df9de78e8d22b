"""iiif-search: serve the index over HTTP, list its books, remove one, manage the admin API's keys.

Only the command line: options in (each also from its IIIF_SEARCH_* variable),
one call out, errors as clean messages and exit codes.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import click

from indexer.errors import IndexerError
from indexer.index.library import Library
from indexer.index.records import BookRecord
from indexer.paths import ACCESS_LEVELS, DEFAULT_DATA_DIR
from indexer.shards import read_place, shard_of

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="IIIF_SEARCH_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default="$IIIF_SEARCH_DATA_DIR or ./data",
    help="Data directory holding the index.",
)


shards_option = click.option(
    "--shards",
    metavar="DIR1,DIR2,...",
    help="The shard data directories of a split collection (as given to index-manifest --shards, same order); "
    "instead of --data-dir.",
)


def _libraries(data_dir: Path, shards: str | None) -> list[Library]:
    """The Library of each shard in order (its index at every access level), or the one of --data-dir."""
    if not shards:
        return [Library(data_dir)]
    parts = [part.strip() for part in shards.split(",")]
    if not all(parts):
        raise click.UsageError(f"--shards {shards!r}: an empty directory name (DIR1,DIR2,... without spaces)")
    for position, part in enumerate(parts):
        place = read_place(Path(part))
        if place is not None and place.position != position:
            raise click.UsageError(
                f"{part} is shard {place.position + 1} of {place.count}, but --shards lists it {position + 1}"
            )
    return [Library(Path(part)) for part in parts]


@click.group()
@click.version_option(package_name="iiif-search")
def main() -> None:
    """Serve IIIF Content Search over books indexed with index-manifest."""


@main.command()
@data_dir_option
@click.option(
    "--host", default="127.0.0.1", show_default=True, envvar="IIIF_SEARCH_HOST", help="Interface to listen on."
)
@click.option("--port", default=8000, show_default=True, type=int, envvar="IIIF_SEARCH_PORT", help="TCP port.")
@click.option(
    "--public-url", envvar="IIIF_SEARCH_PUBLIC_URL", help="Base of every URL in responses (when behind a proxy)."
)
@click.option(
    "--image-root",
    "image_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve every image in DIR under its file stem (repeatable).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=int,
    help="uvicorn worker processes (one per core for a busy server); each gets its own SO_REUSEPORT "
    "socket, and keep-alive connections are evened out between them.",
)
@click.option(
    "--shard",
    "shard_urls",
    multiple=True,
    metavar="URL",
    help="Serve as the front of a sharded collection: the base URL of each shard's server (repeatable), in the "
    "order of index-manifest --shards; books and searches are answered by them. Also IIIF_SEARCH_SHARDS.",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve(
    data_dir: Path,
    host: str,
    port: int,
    public_url: str | None,
    image_roots: tuple[Path, ...],
    workers: int,
    shard_urls: tuple[str, ...],
    log_level: str,
) -> None:
    """Run the HTTP server (uvicorn)."""
    import uvicorn

    from search_service.settings import Settings
    from search_service.web import workers as worker_processes
    from search_service.web.app import create_app
    from search_service.web.http_protocol import uvicorn_options

    # One Settings object: these options over IIIF_SEARCH_* variables over the defaults.
    given: dict[str, Any] = {"data_dir": data_dir.resolve()}
    if public_url:
        given["public_url"] = public_url
    if image_roots:
        given["image_roots"] = [p.resolve() for p in image_roots]
    if shard_urls:
        given["shards"] = ",".join(shard_urls)
    try:
        settings = Settings(**given)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if workers > 1:
        if not worker_processes.supported():
            raise click.ClickException("--workers needs SO_REUSEPORT, which this platform lacks; run one worker")
        # One socket per worker: keep-alive connections spread evenly (see search_service/web/workers.py).
        worker_processes.run(host, port, workers, settings, log_level)
        return
    uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options(settings, log_level))


@main.command(name="list")
@data_dir_option
@shards_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per book.")
@click.option(
    "--links", "base_url", metavar="BASE_URL", help="Also print each book's manifest and viewer URLs on this server."
)
@click.option(
    "--misplaced",
    is_flag=True,
    help="With --shards: only the books on another shard than their id hashes to (after the shards grew); "
    "index them again with the same --shards to move them.",
)
def list_books(data_dir: Path, shards: str | None, as_json: bool, base_url: str | None, misplaced: bool) -> None:
    """List the indexed books."""
    if misplaced and not shards:
        raise click.UsageError("--misplaced is for --shards")
    stores = _libraries(data_dir, shards)
    placed: list[tuple[int, BookRecord]] = []
    levels: dict[str, str] = {}
    try:
        for position, library in enumerate(stores):
            for book, access in library.books():
                placed.append((position, book))
                levels[book.id] = access
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
    if misplaced:
        placed = [(position, book) for position, book in placed if shard_of(book.id, len(stores)) != position]
    books = [book for _, book in placed]
    shard_names = {id(book): position + 1 for position, book in placed} if shards else {}
    for book in books:
        if base_url and not as_json:
            base = base_url.rstrip("/")
            manifest = f"{base}/iiif/{book.id}/manifest"
            quoted = urllib.parse.quote(manifest, safe="")
            click.echo(
                f"{book.label}\n  manifest   {manifest}\n  Mirador 4  {base}/viewer/mirador?manifest={quoted}"
                f"\n  Mirador 3  {base}/viewer/mirador3?manifest={quoted}\n  UV         {base}/viewer/uv?manifest={quoted}"
            )
            continue
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": book.id,
                        "label": book.label,
                        "manifest": book.manifest_id,
                        "canvases": book.canvas_count,
                        "pages": book.page_count,
                        "words": book.word_count,
                        "source": book.source,
                        "access": levels[book.id],
                        **({"shard": shard_names[id(book)]} if shards else {}),
                    }
                )
            )
        else:
            where = f"shard {shard_names[id(book)]}\t" if shards else ""
            access = "" if levels[book.id] == "public" else f"{levels[book.id]}\t"
            click.echo(
                f"{book.id}\t{where}{access}{book.page_count}/{book.canvas_count} pages\t{book.word_count} words\t{book.label}"
            )
    if not books and not as_json:
        click.echo("no misplaced books" if misplaced else f"no books indexed in {shards or data_dir}", err=True)


@main.command()
@data_dir_option
@shards_option
@click.argument("book_ids", nargs=-1, required=True)
@click.option("--wait", default=60.0, show_default=True, help="Seconds to wait for another job's write lock.")
def remove(data_dir: Path, shards: str | None, book_ids: tuple[str, ...], wait: float) -> None:
    """Remove books from the index (with --shards: from whichever shard holds them)."""
    stores = _libraries(data_dir, shards)
    missing = []
    for book_id in book_ids:
        try:
            # Its own shard first; any other only if a copy was left there (the shards grew).
            own = shard_of(book_id, len(stores))
            order = [own, *(p for p in range(len(stores)) if p != own)]
            removed = [p for p in order if stores[p].remove_book(book_id, wait=wait)]
            if removed:
                where = f" from shard {', '.join(str(p + 1) for p in removed)}" if shards else ""
                click.echo(f"removed {book_id}{where}")
            else:
                missing.append(book_id)
        except IndexerError as exc:
            raise click.ClickException(str(exc)) from exc
    if missing:
        raise click.ClickException(f"not indexed: {', '.join(missing)}")


@main.command()
@data_dir_option
@shards_option
@click.argument("book_id")
@click.argument("level", type=click.Choice(list(ACCESS_LEVELS)))
@click.option("--wait", default=60.0, show_default=True, help="Seconds to wait for another job's write lock.")
def access(data_dir: Path, shards: str | None, book_id: str, level: str, wait: float) -> None:
    """Set who may read a book: public, clickthrough or restricted (docs/access.md).

    The book moves to that level's index as it is, without OCR; a running server sees
    the change within a second.
    """
    libraries = _libraries(data_dir, shards)
    library = libraries[shard_of(book_id, len(libraries))]
    try:
        before = library.access_of(book_id)
        if before is None or not library.set_access(book_id, level, wait=wait):
            raise click.ClickException(f"not indexed: {book_id}")
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{book_id}: {level}" + ("" if before != level else " (unchanged)"))


@main.group()
def keys() -> None:
    """API keys of the admin API (POST /api/books, DELETE /api/books/ID): add, list, remove."""


@keys.command(name="add")
@data_dir_option
@click.argument("name")
def keys_add(data_dir: Path, name: str) -> None:
    """Make a key named NAME and print it: the only time it is shown (only its hash is kept)."""
    from search_service.web.auth.keys import ApiKeys, KeyNameError
    from search_service.web.auth.store import AccessStore

    try:
        key = ApiKeys(AccessStore(data_dir)).add(name)
    except KeyNameError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(key)
    click.echo(f"key {name} made: send it as 'Authorization: Bearer KEY'; it is not shown again", err=True)


@keys.command(name="list")
@data_dir_option
def keys_list(data_dir: Path) -> None:
    """List the keys: name, public id, creation date (never the key)."""
    import datetime

    from search_service.web.auth.keys import ApiKeys
    from search_service.web.auth.store import AccessStore

    found = ApiKeys(AccessStore(data_dir)).list()
    for info in found:
        created = datetime.datetime.fromtimestamp(info.created, datetime.UTC).isoformat(timespec="seconds")
        click.echo(f"{info.name}\t{info.key_id}\t{created}")
    if not found:
        click.echo(f"no API keys in {data_dir}", err=True)


@keys.command(name="remove")
@data_dir_option
@click.argument("name")
def keys_remove(data_dir: Path, name: str) -> None:
    """Remove the key NAME: refused at once by every worker and replica."""
    from search_service.web.auth.keys import ApiKeys
    from search_service.web.auth.store import AccessStore

    if not ApiKeys(AccessStore(data_dir)).remove(name):
        raise click.ClickException(f"no API key named {name}")
    click.echo(f"removed key {name}")
