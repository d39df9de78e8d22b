"""The HTTP API: IIIF Content Search 2.0/1.0, the image endpoint and the viewer pages."""

from search_service.app import create_app
from search_service.settings import Settings

__all__ = ["Settings", "create_app"]
