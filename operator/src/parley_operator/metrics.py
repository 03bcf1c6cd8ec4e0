"""The operator's Prometheus metrics, served on `PARLEY_METRICS_PORT` at `/metrics`.

Where this sits: `main.build_registry` makes one `Metrics` per run, times every Tenant
handler through `observe()`, and points the tenant gauges at kopf's `tenant_status`
index, so the gauges are read from what kopf already keeps in memory at scrape time
rather than kept up to date by hand (a deleted Tenant leaves the index by itself).
The alerts built on these series are in charts/parley-operator/templates/prometheusrule.yaml.

Each `Metrics` has a registry of its own instead of prometheus-client's global one, so
a test can run the operator twice in one process.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

import kopf
import prometheus_client
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from parley_operator.reconcile import status

# Handler attempts run from milliseconds (nothing to change) to the request timeout
# times a few calls when a service is slow.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class TenantState:
    """One Tenant as the gauges see it: kopf's `tenant_status` index holds one per object."""

    phase: str
    ready: bool


class Metrics:
    def __init__(self) -> None:
        self.registry = prometheus_client.CollectorRegistry()
        self.reconciles = prometheus_client.Counter(
            "parley_operator_reconciles_total",
            "Tenant handler attempts by handler and outcome: success, retry (a service or "
            "the Kubernetes API did not answer), stalled (the Tenant must change) or error "
            "(an unexpected exception).",
            ["handler", "outcome"],
            registry=self.registry,
        )
        self.errors = prometheus_client.Counter(
            "parley_operator_reconcile_errors_total",
            "Tenant handler attempts that did not succeed, by handler and the Ready "
            "condition's reason (or the exception's class when there is none).",
            ["handler", "reason"],
            registry=self.registry,
        )
        self.duration = prometheus_client.Histogram(
            "parley_operator_reconcile_duration_seconds",
            "Duration of Tenant handler attempts, whatever their outcome.",
            ["handler"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._tenants = _Tenants()
        self.registry.register(self._tenants)
        self._server: tuple[WSGIServer, Thread] | None = None

    def watch(self, index: Mapping[Any, Iterable[TenantState]]) -> None:
        """Read the tenant gauges from kopf's index (a live view kopf keeps current)."""
        self._tenants.index = index

    @asynccontextmanager
    async def observe(self, handler: str, patch: kopf.Patch) -> AsyncIterator[None]:
        started = time.perf_counter()
        try:
            yield
        except kopf.TemporaryError:
            self._failed(handler, "retry", patch, "TemporaryError")
            raise
        except kopf.PermanentError:
            self._failed(handler, "stalled", patch, "PermanentError")
            raise
        except Exception as exc:
            self._failed(handler, "error", patch, type(exc).__name__)
            raise
        else:
            self.reconciles.labels(handler, "success").inc()
        finally:
            self.duration.labels(handler).observe(time.perf_counter() - started)

    def _failed(self, handler: str, outcome: str, patch: kopf.Patch, fallback: str) -> None:
        self.reconciles.labels(handler, outcome).inc()
        self.errors.labels(handler, _ready_reason(patch) or fallback).inc()

    def serve(self, port: int, address: str = "0.0.0.0") -> None:
        """All interfaces by default: Prometheus scrapes the pod's IP."""
        self._server = prometheus_client.start_http_server(
            port, addr=address, registry=self.registry
        )

    def stop(self) -> None:
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self._server = None


def tenant_state(body_status: Mapping[str, Any]) -> TenantState:
    ready = any(
        isinstance(item, Mapping)
        and item.get("type") == status.READY
        and item.get("status") == "True"
        for item in body_status.get("conditions") or []
    )
    return TenantState(phase=str(body_status.get("phase") or status.Phase.PENDING), ready=ready)


class _Tenants(Collector):
    """`parley_operator_tenants{phase}` and `parley_operator_tenant_ready{...}` at scrape time."""

    def __init__(self) -> None:
        self.index: Mapping[Any, Iterable[TenantState]] = {}

    def collect(self) -> Iterator[Metric]:
        by_phase = GaugeMetricFamily(
            "parley_operator_tenants",
            "Tenant resources the operator watches, by status.phase.",
            labels=["phase"],
        )
        ready = GaugeMetricFamily(
            "parley_operator_tenant_ready",
            "1 while a Tenant's Ready condition is True (suspended tenants included), else 0.",
            labels=["tenant_namespace", "tenant"],
        )
        counts = dict.fromkeys((phase.value for phase in status.Phase), 0)
        for (namespace, name), states in self._snapshot():
            for state in states:
                counts[state.phase] = counts.get(state.phase, 0) + 1
                ready.add_metric([namespace, name], 1.0 if state.ready else 0.0)
        for phase, count in counts.items():
            by_phase.add_metric([phase], count)
        yield by_phase
        yield ready

    def _snapshot(self) -> list[tuple[tuple[str, str], list[TenantState]]]:
        # kopf updates the index from its event loop while this (the server's) thread
        # reads it: copy it, and copy again in the rare case it changed mid-copy.
        for _ in range(5):
            try:
                return [(key, list(states)) for key, states in list(self.index.items())]
            except RuntimeError:
                continue
        return []


def _ready_reason(patch: kopf.Patch) -> str | None:
    for item in (patch.get("status") or {}).get("conditions") or []:
        if isinstance(item, Mapping) and item.get("type") == status.READY:
            return str(item.get("reason")) or None
    return None
