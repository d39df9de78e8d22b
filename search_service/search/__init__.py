"""The search logic, no HTTP: what an answer holds, not how it travels.

`query` parses `q`; `hits` plans it against an index snapshot and draws one page of hits;
`books` ranks the books of a collection-wide answer; `search_v1`, `search_v2`,
`collection` and `services` shape those answers as the specs' JSON documents, with the URLs
of `urls` and `image_links` and the contexts of `contexts`. Nothing here imports FastAPI or
Starlette: the HTTP shell is `search_service.web`. Import from the modules.
"""
