"""The HTTP shell around `search_service.search`: the app, its routes and the processes that serve it.

`app.create_app` assembles the routers of `routes/` with the middleware (`middleware`,
`load_sharing`) and error handlers; `deps` hands each route its snapshot and settings;
`responses` and `response_cache` do ETags, 304s and kept bodies; `pages`, `results_page` and
`viewers` make the HTML; `http_protocol` and `workers` are the connection layer and the
worker processes. Import from the modules.
"""
