"""Annotated dependencies shared by the routes: the settings, the index snapshot, the base URL."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from indexer.store import Snapshot, Store
from search_service.responses import base_url
from search_service.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def get_snapshot(request: Request) -> Snapshot:
    return get_store(request).snapshot()


def get_base_url(request: Request) -> str:
    return base_url(request, get_settings(request))


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]
BaseUrlDep = Annotated[str, Depends(get_base_url)]
