"""JSON-reading helpers that the v2 and v3 readers share: labels, services, OCR links, ids.

Presentation 2.1 and 3.0 spell the same things differently (`@id`/`id`, strings or
language maps, a service object or a list); these functions accept both so the
readers can stay short. Nothing here fetches anything.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

from indexer.errors import SourceError
from indexer.model import ImageRef, OcrRef

JsonDict = dict[str, Any]

# Book ids go into our URLs (/iiif/{book}/manifest), so they stay URL-safe.
BOOK_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SLUG_MAX = 100


def as_list(value: Any) -> list[Any]:
    """A JSON value as a list: P2.1 allows one object where P3 wants an array."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def resource_id(value: Any) -> str | None:
    """`id` (P3) or `@id` (P2.1) of an object, or the string itself for a bare reference."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        found = value.get("id", value.get("@id"))
        return found if isinstance(found, str) and found else None
    return None


def resource_type(value: Any) -> str | None:
    """`type` (P3) or `@type` (P2.1); the first string when it is a list."""
    if not isinstance(value, dict):
        return None
    for candidate in as_list(value.get("type", value.get("@type"))):
        if isinstance(candidate, str):
            return candidate
    return None


def positive_int(value: Any) -> int | None:
    """A width or height as a positive int, or None (missing, zero, negative, not a number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) > 0:
        return int(value)
    return None


def _language_values(value: Any) -> list[tuple[str | None, str]]:
    """(language, text) pairs of a P3 language map or a P2.1 string / list / @value object."""
    pairs: list[tuple[str | None, str]] = []
    if isinstance(value, str):
        pairs.append((None, value))
    elif isinstance(value, list):
        for item in value:
            pairs.extend(_language_values(item))
    elif isinstance(value, dict):
        if "@value" in value:  # P2.1 §4.4 {"@value": ..., "@language": ...}
            text = value.get("@value")
            language = value.get("@language")
            if isinstance(text, str):
                pairs.append((language if isinstance(language, str) else None, text))
        else:  # P3 §4.4 language map {"en": ["..."], "none": ["..."]}
            for language, texts in value.items():
                for text in as_list(texts):
                    if isinstance(text, str):
                        pairs.append((None if language in ("none", "@none") else language, text))
    return pairs


def label_text(value: Any) -> str | None:
    """One display string from a label: English first, then no-language, then the first.

    Several values in the chosen language are joined with '; '.
    >>> label_text({"de": ["Seite 1"], "en": ["Page 1"]})
    'Page 1'
    """
    pairs = [(lang, text.strip()) for lang, text in _language_values(value) if text.strip()]
    if not pairs:
        return None

    def chosen(match: Literal["en", "en-", "none"]) -> list[str]:
        if match == "en":
            return [text for lang, text in pairs if lang is not None and lang.lower() == "en"]
        if match == "en-":
            return [text for lang, text in pairs if lang is not None and lang.lower().startswith("en-")]
        return [text for lang, text in pairs if lang is None]

    for match in ("en", "en-", "none"):
        texts = chosen(match)
        if texts:
            return "; ".join(texts)
    first_language = pairs[0][0]
    return "; ".join(text for lang, text in pairs if lang == first_language)


def label_languages(value: Any) -> list[str]:
    """The language codes a label is given in (P3 map keys, P2.1 @language), without 'none'."""
    languages: list[str] = []
    for language, _ in _language_values(value):
        if language and language not in languages:
            languages.append(language)
    return languages


# ISO 639-1 and 639-2/B codes -> Tesseract traineddata names (mostly ISO 639-2/T).
_TESSERACT_LANGS = {
    "af": "afr",
    "ar": "ara",
    "be": "bel",
    "bg": "bul",
    "bn": "ben",
    "bo": "bod",
    "ca": "cat",
    "cs": "ces",
    "cy": "cym",
    "da": "dan",
    "de": "deu",
    "el": "ell",
    "en": "eng",
    "eo": "epo",
    "es": "spa",
    "et": "est",
    "eu": "eus",
    "fa": "fas",
    "fi": "fin",
    "fr": "fra",
    "ga": "gle",
    "gd": "gla",
    "gl": "glg",
    "he": "heb",
    "hi": "hin",
    "hr": "hrv",
    "hu": "hun",
    "hy": "hye",
    "id": "ind",
    "is": "isl",
    "it": "ita",
    "ja": "jpn",
    "ka": "kat",
    "ko": "kor",
    "la": "lat",
    "lt": "lit",
    "lv": "lav",
    "mt": "mlt",
    "nb": "nor",
    "nl": "nld",
    "nn": "nor",
    "no": "nor",
    "oc": "oci",
    "pl": "pol",
    "pt": "por",
    "ro": "ron",
    "ru": "rus",
    "sa": "san",
    "sk": "slk",
    "sl": "slv",
    "sq": "sqi",
    "sr": "srp",
    "sv": "swe",
    "ta": "tam",
    "th": "tha",
    "tr": "tur",
    "uk": "ukr",
    "ur": "urd",
    "vi": "vie",
    "yi": "yid",
    "zh": "chi_sim",
    # ISO 639-2/B (bibliographic) codes that library catalogues still use.
    "alb": "sqi",
    "arm": "hye",
    "baq": "eus",
    "chi": "chi_sim",
    "cze": "ces",
    "dut": "nld",
    "fre": "fra",
    "geo": "kat",
    "ger": "deu",
    "gre": "ell",
    "ice": "isl",
    "per": "fas",
    "rum": "ron",
    "slo": "slk",
    "tib": "bod",
    "wel": "cym",
    "zho": "chi_sim",
}
_LANGUAGE_TAG = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z0-9]{1,8}))*$")


def tesseract_lang(codes: Iterable[str]) -> str | None:
    """Tesseract language names for ISO 639 / BCP 47 codes, joined with '+'.

    Codes we cannot map are kept when they look like ISO 639 (2-3 letters) and
    dropped when they do not (e.g. the 'true' key of a sloppy language map).
    >>> tesseract_lang(["en", "de-AT", "lat", "zh-Hant"])
    'eng+deu+lat+chi_tra'
    """
    names: list[str] = []
    for code in codes:
        match = _LANGUAGE_TAG.match(code.strip())
        if not match:
            continue
        primary = match.group(1).lower()
        if primary in ("zh", "chi", "zho") and re.search(r"(?i)[-_](hant|tw|hk|mo)\b", code):
            name = "chi_tra"
        else:
            name = _TESSERACT_LANGS.get(primary, primary)
        if name not in names:
            names.append(name)
    return "+".join(names) or None


@dataclass(frozen=True, slots=True)
class ImageService:
    """A IIIF Image API service: base URI (no trailing slash or /info.json), version 1-3, profile.

    `width`/`height` are the full image's pixels when the manifest embeds them
    from info.json (Image API 3.0 §5.1), else None.
    """

    base: str
    version: int
    profile: str | None
    width: int | None = None
    height: int | None = None


def _service_version(service: JsonDict, profile: str | None) -> int | None:
    """Image API version of a service object, or None when it is not an image service."""
    kind = resource_type(service) or ""
    # P3 §3.3.1: ImageService1/2/3 types; older services say it with @context or profile.
    for version in (3, 2, 1):
        if kind == f"ImageService{version}":
            return version
    contexts = " ".join(c for c in as_list(service.get("@context")) if isinstance(c, str))
    for version in (3, 2, 1):
        if f"iiif.io/api/image/{version}/" in contexts:
            return version
    if "library.stanford.edu/iiif/image-api" in contexts:  # Image API 1.0/1.1 context
        return 1
    if profile:
        for version in (3, 2, 1):
            if f"iiif.io/api/image/{version}/" in profile:
                return version
        if "library.stanford.edu/iiif/image-api" in profile:
            return 1
        if profile in ("level0", "level1", "level2"):  # Image API 3.0 §5.3 short names
            return 3
    return None


def _profile(service: JsonDict) -> str | None:
    # Image API 2.1 §5.1: profile is a compliance URI, or a list starting with one.
    for candidate in as_list(service.get("profile")):
        if isinstance(candidate, str):
            return candidate
    return None


def image_service(value: Any, services: Iterable[Any] = ()) -> ImageService | None:
    """The best IIIF Image service among a `service` value (highest Image API version).

    `services` is the manifest's top-level `services` list: P3 §3.3.1 lets a
    `service` entry be only id and type, with the full description there.
    >>> image_service([{"@id": "https://x/iiif/p1/", "@type": "ImageService2",
    ...                 "profile": "http://iiif.io/api/image/2/level1.json"}]).base
    'https://x/iiif/p1'
    """
    expanded = {resource_id(s): s for s in services if isinstance(s, dict) and resource_id(s)}
    best: ImageService | None = None
    for service in as_list(value):
        if not isinstance(service, dict):
            continue
        base = resource_id(service)
        if base is None:
            continue
        if base in expanded:
            service = {**expanded[base], **service}
        profile = _profile(service)
        version = _service_version(service, profile)
        if version is None:
            continue
        # P2.1 §5.4: the base URI has no trailing slash; some put /info.json on it.
        base = base.removesuffix("/info.json").rstrip("/")
        if best is None or version > best.version:
            width, height = positive_int(service.get("width")), positive_int(service.get("height"))
            if width is None or height is None:
                width = height = None
            best = ImageService(base, version, profile, width, height)
    return best


def image_ref(body: JsonDict, services: Iterable[Any] = ()) -> ImageRef | None:
    """ImageRef for a painted image resource (P3 body, P2.1 resource), or None if it names nothing.

    `width`/`height` are the full image's when the service says, else the body's
    (a body is often a smaller derivative of the service's image). A body whose id
    is just the service URI (P3 §5.7 forbids it; Bodleian does it) gets no `url`.
    """
    service = image_service(body.get("service"), services)
    url = resource_id(body)
    if service is not None and url is not None and url.rstrip("/") == service.base:
        url = None
    if service is None and url is None:
        return None
    width, height = positive_int(body.get("width")), positive_int(body.get("height"))
    if service is not None and service.width is not None:
        width, height = service.width, service.height
    if width is None or height is None:
        width = height = None
    media_type = body.get("format")
    return ImageRef(
        url=url,
        service=service.base if service else None,
        service_version=service.version if service else None,
        service_profile=service.profile if service else None,
        width=width,
        height=height,
        format=media_type if isinstance(media_type, str) else None,
    )


def canvas_size(canvas: JsonDict, body: JsonDict | None) -> tuple[int, int] | None:
    """Canvas width and height; a canvas without them takes its image's, else None.

    P3 §5.3 and P2.1 §5.3 require them; the fallback keeps sloppy manifests usable,
    since the image is then painted on the whole canvas anyway.
    """
    width, height = positive_int(canvas.get("width")), positive_int(canvas.get("height"))
    if width is not None and height is not None:
        return width, height
    if body is not None:
        width, height = positive_int(body.get("width")), positive_int(body.get("height"))
        if width is not None and height is not None:
            return width, height
    return None


_LOGGED_SKIPS = 5


def log_skipped(log: logging.Logger, location: str, skipped: list[str]) -> None:
    """One warning per skipped canvas, the first few only, so a broken manifest does not flood the log."""
    for reason in skipped[:_LOGGED_SKIPS]:
        log.warning("%s: %s; skipped", location, reason)
    if len(skipped) > _LOGGED_SKIPS:
        log.warning("%s: %d more canvases skipped for the same kinds of reason", location, len(skipped) - _LOGGED_SKIPS)


def skipped_error(location: str, skipped: list[str]) -> SourceError:
    """The error for a manifest none of whose canvases could be used; names the first reason."""
    more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
    return SourceError(f"manifest {location} has no usable canvases: {skipped[0]}{more}")


def book_language(data: JsonDict) -> str | None:
    """Tesseract language(s) of a manifest: its `language`, else the languages of its label."""
    declared = [code for code in as_list(data.get("language")) if isinstance(code, str)]
    return tesseract_lang(declared or label_languages(data.get("label")))


_XML_FORMATS = ("application/xml", "text/xml", "application/alto+xml")
_ALTO_PROFILE = re.compile(r"(?<![a-z])alto(?![a-z])")


def ocr_link(value: Any) -> OcrRef | None:
    """The first hOCR or ALTO file among `seeAlso`/`rendering` entries, judged by format and profile.

    >>> ocr_link([{"id": "https://x/alto/1", "format": "text/xml",
    ...            "profile": "http://www.loc.gov/standards/alto/v3/alto.xsd"}])
    OcrRef(url='https://x/alto/1', format='alto')
    """
    for link in as_list(value):
        url = resource_id(link)
        if url is None or not isinstance(link, dict):
            continue
        raw_format = link.get("format", link.get("@format"))  # e-codices writes "@format"
        media_type = raw_format.split(";")[0].strip().lower() if isinstance(raw_format, str) else None
        profiles = " ".join(p for p in as_list(link.get("profile")) if isinstance(p, str)).lower()
        if media_type == "text/vnd.hocr+html" or "hocr" in profiles:
            return OcrRef(url=url, format="hocr")
        if media_type == "application/alto+xml" or (
            _ALTO_PROFILE.search(profiles) and (media_type is None or media_type in _XML_FORMATS)
        ):
            return OcrRef(url=url, format="alto")
    return None


Kind = Literal["manifest", "collection"]
_PRESENTATION_CONTEXT = re.compile(r"iiif\.io/api/presentation/(\d+)")


def sniff(data: Any, location: str) -> tuple[Kind, Literal[2, 3]]:
    """Whether JSON is a Manifest or a Collection, and of which Presentation version.

    Raises SourceError that says what was found instead.
    """
    if not isinstance(data, dict):
        raise SourceError(f"{location}: JSON but not a IIIF Manifest or Collection: a {type(data).__name__}")
    contexts = " ".join(c for c in as_list(data.get("@context")) if isinstance(c, str))
    # A context naming only another Presentation version (1, or a future 4) is not read as
    # 3.0 by default: its shape may differ in ways that would index the wrong things.
    versions = {int(v) for v in _PRESENTATION_CONTEXT.findall(contexts)}
    if versions and not versions & {2, 3}:
        raise SourceError(
            f"{location}: IIIF Presentation {', '.join(map(str, sorted(versions)))} is not supported "
            "(only 2.x and 3.0, by their @context)"
        )
    if "type" in data:
        key, found = "type", data["type"]
    else:
        key, found = "@type", data.get("@type")
    if found in ("sc:Manifest", "sc:Collection") or (
        found in ("Manifest", "Collection") and "presentation/2" in contexts
    ):
        return ("manifest" if found.endswith("Manifest") else "collection"), 2
    if found in ("Manifest", "Collection"):
        return ("manifest" if found == "Manifest" else "collection"), 3
    what = f"{key} {found!r}" if found is not None else "no type or @type"
    raise SourceError(f"{location}: JSON but not a IIIF Manifest or Collection: {what}")


def validate_book_id(book_id: str) -> str:
    """`book_id` unchanged, or SourceError when it is not usable in our URLs."""
    if not BOOK_ID_PATTERN.match(book_id):
        raise SourceError(
            f"book id {book_id!r} is not usable: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return book_id


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # a name too long for the file system
        return False


def slug(text: str) -> str:
    """A stable book id for a source: host and path of a URL, folder name, or file stem.

    Long ids are cut and end in a hash of the whole source, so they stay unique.
    >>> slug("https://iiif.wellcomecollection.org/presentation/v3/b21506115")
    'iiif-wellcomecollection-org-presentation-v3-b21506115'
    >>> slug("/data/scans/my book 1908/")
    'my-book-1908'
    """
    try:
        parts = urlsplit(text)
    except ValueError:  # "https://[::1": no URL after all, slug the text as it is
        parts = urlsplit("")
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        raw = parts.netloc.lower() + parts.path + (f"-{parts.query}" if parts.query else "")
    else:
        path = Path(url2pathname(parts.path)) if parts.scheme.lower() == "file" else Path(text)
        # (a text that failed to parse falls here too, and is slugged as a path)
        raw = path.name if not path.suffix or _is_dir(path) else path.stem
    cleaned = re.sub(r"[^A-Za-z0-9_]+", "-", raw).strip("-_")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    if not cleaned:
        return f"book-{digest}"
    if len(cleaned) > _SLUG_MAX:
        cleaned = f"{cleaned[: _SLUG_MAX - 11].rstrip('-_')}-{digest}"
    return cleaned
