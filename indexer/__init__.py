"""Manifests in, Whoosh index out; the index-manifest CLI."""
