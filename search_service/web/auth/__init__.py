"""Who may read what (#22): signed access tokens, the one access check, and the login services.

`reader.reader_of(request)` is the only place a request's access is decided: every
route, on a single server and on a shard front alike, asks it and nothing else.
"""
