"""`/healthz` (the process is alive) and `/readyz` (its dependencies answer), per docs/api.md.

Each readiness probe also sets `parley_dependency_up`, which the ParleyNotReady alert
reads: the kubelet probes every few seconds, so the gauge stays fresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler
from opentelemetry.instrumentation.utils import suppress_instrumentation

from parley_core.metrics import DEPENDENCY_UP
from parley_core.web import error_response

logger = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[object]]
"""An awaitable that returns when a dependency answers and raises when it does not."""

PROBE_TIMEOUT_SECONDS = 2.0


async def _run(service: str, name: str, probe: Probe) -> str | None:
    up = DEPENDENCY_UP.labels(service=service, dependency=name)
    try:
        # Probes are not traced: a root span every few seconds per pod would bury the
        # traces of real requests.
        with suppress_instrumentation():
            await asyncio.wait_for(probe(), PROBE_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("readiness probe failed", extra={"dependency": name, "error": repr(exc)})
        up.set(0)
        return name
    up.set(1)
    return None


async def failing(probes: Mapping[str, Probe], *, service: str) -> list[str]:
    """The dependencies that do not answer now (none: ready); the gRPC health service asks
    this too (parley_core.rpc)."""
    results = await asyncio.gather(*(_run(service, name, probe) for name, probe in probes.items()))
    return [name for name in results if name is not None]


def handlers(probes: Mapping[str, Probe], *, service: str) -> list[HTTPRouteHandler]:
    """Route handlers for both endpoints; `probes` names each dependency readiness needs."""

    @get("/healthz", include_in_schema=False, sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", include_in_schema=False)
    async def readyz() -> Response[dict[str, Any]]:
        down = await failing(probes, service=service)
        checks = {name: ("failing" if name in down else "ok") for name in probes}
        if down:
            return error_response(503, f"{', '.join(down)} unavailable", checks=checks)
        return Response({"status": "ok", "checks": checks})

    return [healthz, readyz]
