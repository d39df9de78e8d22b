"""The HTTP API: IIIF Content Search 2.0/1.0, the image endpoint and the viewer pages.

The app is built by `search_service.web.app.create_app(Settings(...))`. This file imports
nothing, so that `search_service.search.query` and its kin load without the web stack or pyvips.
"""
