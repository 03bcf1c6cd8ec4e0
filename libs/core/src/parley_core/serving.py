"""How every Parley process runs its app under uvicorn: one process a pod, uvicorn's logs
through ours (configure `parley_core.logging` first), client addresses from trusted
proxies only, and a bounded graceful shutdown.

Client addresses: uvicorn's ProxyHeadersMiddleware (0.54) already does what the login
limiter needs when given addresses or CIDRs: it reads X-Forwarded-For only from a trusted
peer and takes the rightmost entry that is not itself a trusted proxy, so a client cannot
choose its address by prepending entries. Only `*` makes it take the leftmost entry, which
the client writes; `CoreSettings.forwarded_allow_ips` refuses `*` for that reason.

One process a pod is also what keeps the Prometheus metrics right: they live in the
process, and a pod's /metrics must answer for all of the pod (docs/observability.md).
Scale with replicas, never with uvicorn workers."""

from __future__ import annotations

from typing import Any

import uvicorn

from parley_core.settings import CoreSettings

GRACEFUL_SHUTDOWN_SECONDS = 10
WS_PING_SECONDS = 20.0
WS_MAX_FRAME_BYTES = 1024 * 1024


def config(app: Any, settings: CoreSettings) -> uvicorn.Config:
    """How every process serves its app; tests serve apps with the same configuration."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # docs/stream.md: protocol pings find dead peers; on shutdown uvicorn closes each
        # socket with 1012. The largest client frame is a resume with 10 000 cursors.
        ws_ping_interval=WS_PING_SECONDS,
        ws_ping_timeout=WS_PING_SECONDS,
        ws_max_size=WS_MAX_FRAME_BYTES,
    )


def run(app: Any, settings: CoreSettings) -> None:
    uvicorn.Server(config(app, settings)).run()
