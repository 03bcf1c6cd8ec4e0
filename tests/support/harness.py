"""What the operator tests start around the operator: restartable real servers, and the
types of the conftest factories that build settings and run the operator."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from kopf.testing import KopfRunner

from parley_operator.settings import OperatorSettings
from support.processes import Started
from support.servers import ServedApp

MakeSettings = Callable[..., OperatorSettings]
"""`make_settings(**overrides)`: operator settings on the real test servers."""

RunOperator = Callable[..., AbstractContextManager[KopfRunner]]
"""`run_operator(settings, *namespaces)`: the operator running until the block ends."""


class Restartable(Started):
    """A real server a test may stop and start again on the same port: to its clients, an
    outage and a recovery. Each start serves a fresh app from `make_app`, on the same
    database."""

    def __init__(self, make_app: Callable[[], Any], *, port: int = 0) -> None:
        self._make_app = make_app
        self._served: ServedApp | None = None
        self.port = port
        self.url = f"http://127.0.0.1:{port}" if port else ""

    def start(self) -> Restartable:
        assert self._served is None, "already running"
        self._served = ServedApp(self._make_app(), port=self.port).__enter__()
        self.port, self.url = self._served.port, self._served.url
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.__exit__(None, None, None)
            self._served = None
