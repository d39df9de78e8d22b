"""python -m search_service: the same as `iiif-search serve`."""

from search_service.cli import main

main(["serve"])
