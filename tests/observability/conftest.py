"""Both services as real processes, as Prometheus and a log shipper see them in a pod: one
`parley-auth serve` and one `parley-chat serve` on one SQLite file and the test Redis,
logging at INFO to files, with tracing on but exporting nothing (`OTEL_TRACES_EXPORTER=none`)
so that every request's log line carries its trace and span ids."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import auth, chat, services
from support.observability import Stack
from support.processes import ServiceProcess


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis_url = services.redis_url()
    work = tmp_path_factory.mktemp("observability")
    database_url = chat.migrated(auth.migrated(f"sqlite+aiosqlite:///{work}/parley.db"))
    common = {
        "PARLEY_DATABASE_URL": database_url,
        "PARLEY_REDIS_URL": redis_url,
        "PARLEY_REDIS_PREFIX": services.redis_prefix(),
        "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
        "PARLEY_LOG_LEVEL": "INFO",
        "OTEL_TRACES_EXPORTER": "none",
    }
    auth_env = {
        **common,
        "PARLEY_DATA_DIR": str(work / "auth"),
        **auth.PROCESS_ENV,
        "PARLEY_LOGIN_FAILURES_PER_ACCOUNT": "3",
        # Every test client is 127.0.0.1, and the counters live in the shared test Redis.
        "PARLEY_LOGIN_FAILURES_PER_ADDRESS": "100000",
        "PARLEY_LOGINS_PER_ADDRESS": "100000",
        "PARLEY_REGISTRATIONS_PER_ADDRESS": "100000",
    }
    with ServiceProcess("parley_auth", auth_env, log_dir=work) as auth_service:
        chat_env = {
            **common,
            "PARLEY_DATA_DIR": str(work / "chat"),
            "PARLEY_AUTH_URL": auth_service.url,
            # Every send asks auth for the tenant's limits: calls to auth show on the
            # dependencies dashboard, and a changed limit applies at once.
            "PARLEY_AUTH_CACHE_SECONDS": "0",
        }
        with ServiceProcess("parley_chat", chat_env, log_dir=work) as chat_service:
            yield Stack(auth_service, chat_service)
