"""The columnar posting format's home before indexer/index/ (#11): indexes written then still name it.

Whoosh pickles each table of contents with the schema's field formats and each segment's
codec, by module path, so an index written before the split names `indexer.postings_codec`
and failed to open after it (ModuleNotFoundError). These names keep such indexes readable;
indexes written since name indexer.index.postings_codec.
"""

from __future__ import annotations

from indexer.index.postings_codec import ArrayPositions, ColumnarCodec

__all__ = ["ArrayPositions", "ColumnarCodec"]
