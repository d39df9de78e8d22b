"""iiif-search: serve the index over HTTP, list its books, remove one.

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
from indexer.index.store import Store
from indexer.paths import DEFAULT_DATA_DIR

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="IIIF_SEARCH_DATA_DIR",
    default=DEFAULT_DATA_DIR,
    show_default="$IIIF_SEARCH_DATA_DIR or ./data",
    help="Data directory holding the index.",
)


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
    settings = Settings(**given)
    if workers > 1:
        if not worker_processes.supported():
            raise click.ClickException("--workers needs SO_REUSEPORT, which this platform lacks; run one worker")
        # One socket per worker: keep-alive connections spread evenly (see search_service/web/workers.py).
        worker_processes.run(host, port, workers, settings, log_level)
        return
    uvicorn.run(create_app(settings), host=host, port=port, **uvicorn_options(settings, log_level))


@main.command(name="list")
@data_dir_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per book.")
@click.option(
    "--links", "base_url", metavar="BASE_URL", help="Also print each book's manifest and viewer URLs on this server."
)
def list_books(data_dir: Path, as_json: bool, base_url: str | None) -> None:
    """List the indexed books."""
    try:
        books = Store(data_dir).snapshot().books()
    except IndexerError as exc:
        raise click.ClickException(str(exc)) from exc
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
                    }
                )
            )
        else:
            click.echo(f"{book.id}\t{book.page_count}/{book.canvas_count} pages\t{book.word_count} words\t{book.label}")
    if not books and not as_json:
        click.echo(f"no books indexed in {data_dir}", err=True)


@main.command()
@data_dir_option
@click.argument("book_ids", nargs=-1, required=True)
@click.option("--wait", default=60.0, show_default=True, help="Seconds to wait for another job's write lock.")
def remove(data_dir: Path, book_ids: tuple[str, ...], wait: float) -> None:
    """Remove books from the index."""
    store = Store(data_dir)
    missing = []
    for book_id in book_ids:
        try:
            if store.remove_book(book_id, wait=wait):
                click.echo(f"removed {book_id}")
            else:
                missing.append(book_id)
        except IndexerError as exc:
            raise click.ClickException(str(exc)) from exc
    if missing:
        raise click.ClickException(f"not indexed: {', '.join(missing)}")
