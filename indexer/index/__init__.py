"""The Whoosh index, one concern per module (import from the module, not from here).

- schema.py: the Whoosh schema, pair terms of common words, document keys, the segment-name fix
- records.py: PageRecord and BookRecord and their blobs (no Whoosh)
- store.py: Store: the write lock, a book replaced or removed in one commit, snapshots
- retiring_storage.py: the writer's file storage: files a commit gave up are removed 5 minutes later
- snapshot.py: Snapshot: reading one commit (books, manifests, pages, term counts) with its caches
- postings.py: a term's postings read as numpy arrays or blocks (Whoosh's private posting API)
- counting.py: what a hit is (`hit_spans`) and every strategy that counts hits on every page
- postings_codec.py: the columnar posting format; common_words.py: the words whose pairs are indexed
"""
