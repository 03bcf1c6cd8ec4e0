"""Real uvicorn servers for tests: an app served over a loopback socket from a thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from parley_core import serving
from parley_core.settings import CoreSettings


class ServedApp:
    """Serve an ASGI app with uvicorn on 127.0.0.1 and a free port, until closed.

    `port` binds a given port instead: a test that stops a server and starts another on
    the same address (an outage and a recovery, as its clients see it) passes the first
    one's `port`. `settings` serves the app exactly as `parley_core.serving` does in
    production (proxy headers included), on 127.0.0.1 and `port`.
    """

    def __init__(self, app: Any, *, port: int = 0, settings: CoreSettings | None = None) -> None:
        if settings is not None:
            config = serving.config(
                app, settings.model_copy(update={"host": "127.0.0.1", "port": port})
            )
        else:
            config = uvicorn.Config(
                app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
            )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self.url = ""
        self.port = port

    def __enter__(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread died during startup")
            if time.monotonic() > deadline:
                raise TimeoutError("the server did not start within 30 s")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
