"""`index-manifest --cluster`: each canvas's OCR as tasks on a Dask distributed cluster.

tasks.py   what runs on the workers: fetch or hold an image, its cache key, Tesseract, a probe
client.py  what runs in index-manifest: connect, check the workers, stream canvases through them

The client keeps everything else (manifests, the OCR cache, parsing, the one index
writer), so the index still has a single writer. Needs the `cluster` extra
(`pip install 'iiif-search[cluster]'`) here and on every worker; see docs/scale.md.
"""
