"""What an SRE sees of the running operator: its Prometheus metrics and its JSON log lines,
from the real operator under KopfRunner against the emulated API and real auth."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support import auth
from support.harness import MakeSettings, RunOperator
from support.kubernetes import Kubectl, eventually
from support.processes import free_port


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of `/metrics`, by name and labels."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def status_of(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    found = kubectl.get(kubectl.tenants(namespace, name))
    assert found is not None
    status: dict[str, Any] = found.get("status") or {}
    return status


def test_the_operator_counts_reconciles_and_errors_and_gauges_tenants_by_phase_and_readiness(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    api: auth.AuthApi,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    mine, theirs = slug(), slug()
    created = api.http.put(
        f"/internal/v1/tenants/{theirs}", json={"display_name": "Theirs"}, headers=api.admin
    )
    assert created.status_code == 201
    port = free_port()
    with run_operator(make_settings(metrics_port=port), namespace):
        kubectl.tenant(namespace, mine, {"displayName": "Mine"})
        kubectl.tenant(namespace, theirs, {"displayName": "Not theirs"})

        def settled() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
            samples = scrape(port)
            assert sample(samples, "parley_operator_tenants", phase="Ready") == 1, samples
            assert sample(samples, "parley_operator_tenants", phase="Error") == 1, samples
            return samples

        samples = eventually(settled, what="one Ready and one refused Tenant in the gauges")

        assert sample(samples, "parley_operator_tenants", phase="Pending") == 0
        assert (
            sample(samples, "parley_operator_tenant_ready", tenant_namespace=namespace, tenant=mine)
            == 1
        )
        assert (
            sample(
                samples, "parley_operator_tenant_ready", tenant_namespace=namespace, tenant=theirs
            )
            == 0
        )
        assert (
            sample(samples, "parley_operator_reconciles_total", handler="apply", outcome="success")
            >= 1
        )
        assert (
            sample(samples, "parley_operator_reconciles_total", handler="apply", outcome="stalled")
            >= 1
        )
        assert (
            sample(
                samples,
                "parley_operator_reconcile_errors_total",
                handler="apply",
                reason="TenantExists",
            )
            >= 1
        )
        assert (
            sample(samples, "parley_operator_reconcile_duration_seconds_count", handler="apply")
            >= 2
        )

        # A deleted Tenant leaves the gauges.
        kubectl.delete(kubectl.tenants(namespace, theirs))
        eventually(
            lambda: _gone(port, namespace, theirs), what="the deleted Tenant leaving the gauges"
        )


def _gone(port: int, namespace: str, name: str) -> None:
    samples = scrape(port)
    assert sample(samples, "parley_operator_tenants", phase="Error") == 0, samples
    assert (
        "parley_operator_tenant_ready",
        frozenset({("tenant_namespace", namespace), ("tenant", name)}),
    ) not in samples


def test_with_log_format_json_each_line_is_json_with_the_services_field_names(
    run_operator: RunOperator,
    make_settings: MakeSettings,
    kubectl: Kubectl,
    namespace: str,
    slug: Callable[[], str],
) -> None:
    name = slug()
    with run_operator(make_settings(), namespace, extra=["--log-format=json"]) as runner:
        kubectl.tenant(namespace, name, {})

        def ready() -> None:
            conditions = status_of(kubectl, namespace, name).get("conditions") or []
            assert any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        eventually(ready, what=f"{name} Ready")
    lines = [json.loads(line) for line in runner.output.splitlines() if line.startswith("{")]
    about = [line for line in lines if line.get("tenant") == name]
    assert about, runner.output[-2000:]
    for line in about:
        assert {"@timestamp", "log.level", "message"} <= set(line), line
        assert line["service.name"] == "parley-operator"
        assert line["kubernetes.namespace"] == namespace
        assert line["log.level"] in {"debug", "info", "warning", "error", "critical"}
    # kopf's own field names are not used once Parley's formatter is in.
    assert not any("severity" in line for line in about)
