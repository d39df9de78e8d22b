"""The embedded IIIF Image API (3.0 and 2.1, level 1): parse, plan, render.

`request` turns a URL path into checked fields (syntax only), `plan` does the
arithmetic against one image and the server's limits, `render` is the only
module that touches pixels (pyvips), `derivative` keeps the tiled pyramid TIFFs
that make tiles cheap, `resolve` maps identifiers to files, and `info_v2` /
`info_v3` shape the image information documents. Import from the modules: this
file imports nothing, so parsing a URL needs no pyvips.
"""
