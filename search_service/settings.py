"""Every knob of the server, read once from IIIF_SEARCH_* environment variables.

Environment, then a `.env` file, then the default (starlette's config rule).
`create_app(settings)` keeps the object on `app.state`; nothing reads it at import.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from indexer.paths import DEFAULT_DATA_DIR


class Settings(BaseSettings):
    """Server settings; `docs/configuration.md` lists each with its variable."""

    model_config = SettingsConfigDict(env_prefix="IIIF_SEARCH_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Data directory holding the index, OCR cache and image derivatives.",
    )
    public_url: str | None = Field(
        default=None, description="Base URL of every URL in responses (behind a proxy); default: the request's own."
    )
    image_roots: list[Path] = Field(
        default_factory=list, description="Folders whose images are served by the image endpoint under their file stem."
    )
    page_size: int = Field(
        default=100, ge=1, le=1000, description="Annotations per page of a search response (Mirador slows past 100)."
    )
    books_page_size: int = Field(
        default=10, ge=1, le=100, description="Books per page of the book-level answer (/api/search, /search)."
    )
    hits_per_book: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Hits shown for each book of the book-level answer, its first in reading order.",
    )
    collection_label: str = Field(
        default="Every book indexed here",
        min_length=1,
        max_length=500,
        description="Label of the IIIF Collection of every book (/iiif/collection).",
    )
    autocomplete_limit: int = Field(default=20, ge=1, le=1000, description="Most terms an autocomplete response lists.")
    max_query_length: int = Field(
        default=500, ge=1, description="Longest q accepted, in characters; longer gets a 400."
    )
    max_image_width: int = Field(default=10000, ge=1, description="maxWidth of the image endpoint, in pixels.")
    max_image_height: int = Field(default=10000, ge=1, description="maxHeight of the image endpoint, in pixels.")
    max_image_area: int = Field(default=40_000_000, ge=1, description="maxArea of the image endpoint, in pixels.")
    max_source_pixels: int = Field(
        default=300_000_000, ge=1, description="Largest source image decoded; larger (decompression bombs) are refused."
    )
    response_cache_mb: int = Field(
        default=64,
        ge=0,
        description="Megabytes of search and autocomplete responses kept per worker for repeated requests (0: none).",
    )
    gc_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Youngest-generation threshold of Python's garbage collector in each server process (Python's default: 700; 0 leaves it as it is). A search builds thousands of short-lived objects; at 700, collections took ~15% of a worker's time.",
    )
    cache_max_age: int = Field(
        default=3600, ge=0, description="Cache-Control max-age in seconds for search, manifest and image responses."
    )
    cors_origins: str = Field(default="*", description="Access-Control-Allow-Origin value.")
    frame_ancestors: str = Field(
        default="'none'",
        pattern=r"^[^;,\r\n]+$",
        description="The CSP frame-ancestors of the viewer pages: the sites that may show them in a frame, e.g. "
        "`'self' https://library.example.org` ('none': no site). Every other page may be framed by none.",
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "[::1]"],
        description="Without public_url: the Host names a request may carry (URLs in responses are built from it); "
        "`*` allows any well-formed host, `.example.org` a domain and its subdomains. Others get a 400.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        description="Addresses (comma-separated; `*` for any) whose X-Forwarded-For/-Proto headers are believed: "
        "the reverse proxy in front of the server.",
    )
    max_request_head_bytes: int = Field(
        default=16_384, ge=1024, description="Largest request line plus headers, in bytes; larger gets a 431."
    )
    max_url_bytes: int = Field(default=8192, ge=256, description="Longest request line, in bytes; longer gets a 414.")
    header_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a client has to send a whole request head; then a 408 and close."
    )
    keep_alive_timeout: int = Field(default=5, ge=1, description="Seconds an idle keep-alive connection stays open.")
    max_connections: int = Field(
        default=1000, ge=1, description="Open connections per worker process; more are answered 503 and closed."
    )
    search_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Threads per worker that build search and autocomplete answers not already cached. The work is "
        "CPU-bound Python under one GIL per worker: a second thread adds contention, not speed (run more workers).",
    )
    heavy_search_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Further threads per worker for searches that may be costly (a prefix, a word twice), so that "
        "they never hold the threads that other searches need.",
    )
    search_wait: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a search may wait for a free search thread; then a 503 with Retry-After.",
    )
    fuzzy_fallback: bool = Field(
        default=True,
        description="Retry a search that finds nothing with its plain words made fuzzy (word~), and say so in the "
        "response's label (docs/query-language.md).",
    )
    query_time_limit: float = Field(
        default=2.0,
        gt=0,
        description="Seconds of work one search may take; past it the search stops with a 400 that says so "
        "(docs/query-language.md).",
    )
    shards: str = Field(
        default="",
        description="Serve as the front of a collection split into shards: the shards' base URLs, comma-separated, "
        "in the order of index-manifest --shards (docs/scale.md#shards). Empty: serve the data directory's own index.",
    )
    shard_timeout: float = Field(
        default=5.0,
        gt=0,
        description="Seconds the front waits for a shard's answer; past it a collection answer says the shard is "
        "missing (docs/api.md#shards) and a book of that shard gets a 503.",
    )

    auth_secret: str | None = Field(
        default=None,
        description="Key access tokens are signed with (#22), the same on every replica and shard; "
        "default: a random key kept in DATA_DIR/auth-secret.",
    )
    session_hours: float = Field(
        default=8.0, gt=0, le=24 * 30, description="Hours an access token (a login or a clickthrough) stays valid."
    )
    # Who may log in (#22; docs/access.md): a password file, a single sign-on proxy's header, or both.
    htpasswd: Path | None = Field(
        default=None,
        description="A password file as `htpasswd -B` writes it (bcrypt hashes), checked by the login page and "
        "HTTP Basic on /auth/login; re-read when it changes.",
    )
    trusted_user_header: str | None = Field(
        default=None,
        description="Header naming the user that the library's single sign-on proxy sets on /auth/login (e.g. "
        "X-Remote-User); only safe when the proxy strips it from clients (docs/access.md#single-sign-on).",
    )
    auth_origins: str = Field(
        default="",
        description="Origins besides this server's own (comma-separated, e.g. https://viewer.example.org) whose "
        "viewers may receive access tokens from the token services; `*` for any (docs/access.md#origins).",
    )

    def auth_origin_list(self) -> list[str]:
        """`auth_origins` as a list of origins (`scheme://host[:port]`), in order."""
        return [origin.strip().rstrip("/") for origin in self.auth_origins.split(",") if origin.strip()]

    index_workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description="Tesseract processes a job of the admin API (#22, POST /api/books) runs in parallel; "
        "the server's other cores keep answering searches. index-manifest's --workers.",
    )
    index_wait: float = Field(
        default=60.0, ge=0, description="Seconds the admin API waits for another job's write lock of the index."
    )
    manifest_check_timeout: float = Field(
        default=20.0,
        gt=0,
        le=300,
        description="Seconds POST /api/books waits for the manifest it checks before answering (then a 422).",
    )

    @field_validator("shards")
    @classmethod
    def _shard_urls_are_http(cls, value: str) -> str:
        for url in (part.strip() for part in value.split(",")):
            if url and not (url.startswith(("http://", "https://")) and len(url.split("/", 3)[2]) > 0):
                raise ValueError(f"shard URL {url!r} is not an http:// or https:// URL")
        return value

    def shard_urls(self) -> list[str]:
        """`shards` as a list of base URLs (no trailing slash), in order."""
        return [url.strip().rstrip("/") for url in self.shards.split(",") if url.strip()]
