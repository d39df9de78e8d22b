"""GET /health: a cheap liveness answer for load balancers, and the benchmarks' reference endpoint."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import JSONResponse

router = APIRouter()


@router.api_route("/health", methods=["GET"], include_in_schema=True, summary="Liveness check")
async def health() -> JSONResponse:
    """Answers without touching the index, so it measures the server's own overhead."""
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
