"""The JSON-LD contexts and profile URIs of the IIIF specifications this server speaks."""

from __future__ import annotations

PRESENTATION2_CONTEXT = "http://iiif.io/api/presentation/2/context.json"
PRESENTATION3_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
SEARCH1_CONTEXT = "http://iiif.io/api/search/1/context.json"
SEARCH2_CONTEXT = "http://iiif.io/api/search/2/context.json"
SEARCH1_PROFILE = "http://iiif.io/api/search/1/search"
AUTOCOMPLETE1_PROFILE = "http://iiif.io/api/search/1/autocomplete"
