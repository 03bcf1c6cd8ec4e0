"""How every Parley process runs its app under uvicorn: one process a pod, uvicorn's logs
through ours (configure `parley_core.logging` first), client addresses from trusted
proxies only, and a bounded graceful shutdown."""

from __future__ import annotations

from typing import Any

import uvicorn

from parley_core.settings import CoreSettings

GRACEFUL_SHUTDOWN_SECONDS = 10


def run(app: Any, settings: CoreSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
