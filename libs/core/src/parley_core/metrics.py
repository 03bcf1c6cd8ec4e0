"""Prometheus metrics both services export on `GET /metrics` (docs/observability.md lists
every name, what it means and which alert reads it).

HTTP requests are counted by Litestar's Prometheus middleware, by route template and
status (`parley_core.telemetry.http_metrics`); this module adds readiness, database pool
use and rate limiting. Each service's own metrics live beside it (`parley_auth.metrics`,
`parley_chat.metrics`). No web framework here: domain code counts its events with these.

With `PARLEY_WORKERS` > 1 a pod runs several server processes (parley_core.serving) and
prometheus-client's multiprocess mode sums their counters and histograms; each gauge says
how its workers' values combine (`multiprocess_mode`, ignored with one process). The
database pool gauges are read from the live pools at scrape time, which multiprocess mode
cannot do: with several workers they are left out. Labels take values from small fixed
sets only, never a user, chat or tenant id, so the number of series stays bounded however
many tenants there are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from threading import Lock

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool, QueuePool

UNSCRAPED_PATHS = ["^/healthz$", "^/readyz$", "^/metrics$"]
"""Probes and scrapes: counted by nobody, logged by nobody, traced by nobody."""

DEPENDENCY_UP = Gauge(
    "parley_dependency_up",
    "1 when the dependency answered the last readiness probe (GET /readyz), 0 when it did not.",
    ["service", "dependency"],
    multiprocess_mode="livemin",  # down if any live worker found it down
)

RATE_LIMITED = Counter(
    "parley_rate_limited_requests_total",
    "Requests refused with 429 by a limit: login_account, login_address, logins_address, "
    "registrations_address, messages_per_minute, or one of chat's per-user limits "
    "(message_edits, chat_creations, member_adds, read_markers, typing, chats_joined, "
    "reactions).",
    ["limit"],
)


class _PoolCollector(Collector):
    """Reads each watched engine's connection pool at scrape time, so the numbers are
    exact rather than a count kept beside the pool that could drift."""

    def __init__(self) -> None:
        self._pools: dict[str, list[Pool]] = {}
        self._lock = Lock()

    def watch(self, name: str, engine: AsyncEngine) -> Callable[[], None]:
        pool = engine.sync_engine.pool
        with self._lock:
            self._pools.setdefault(name, []).append(pool)

        def unwatch() -> None:
            with self._lock:
                pools = self._pools.get(name, [])
                if pool in pools:
                    pools.remove(pool)

        return unwatch

    def collect(self) -> Iterable[GaugeMetricFamily]:
        connections = GaugeMetricFamily(
            "parley_db_pool_connections",
            "Database connections this process holds, by pool and state (in_use, idle).",
            labels=["pool", "state"],
        )
        limit = GaugeMetricFamily(
            "parley_db_pool_max_connections",
            "Most connections the pool opens (pool size plus overflow); past it, requests "
            "wait, then answer 503.",
            labels=["pool"],
        )
        with self._lock:
            watched = {name: list(pools) for name, pools in self._pools.items() if pools}
        for name, pools in sorted(watched.items()):
            queues = [pool for pool in pools if isinstance(pool, QueuePool)]
            in_use = sum(pool.checkedout() for pool in queues)
            idle = sum(pool.checkedin() for pool in queues)
            # QueuePool keeps its overflow allowance private; size() plus it is the ceiling.
            ceiling = sum(pool.size() + max(pool._max_overflow, 0) for pool in queues)
            connections.add_metric([name, "in_use"], in_use)
            connections.add_metric([name, "idle"], idle)
            limit.add_metric([name], ceiling)
        yield connections
        yield limit


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)


def watch_pool(name: str, engine: AsyncEngine) -> Callable[[], None]:
    """Export `engine`'s pool as `pool=name`; call the returned function when disposing it."""
    return _POOLS.watch(name, engine)
