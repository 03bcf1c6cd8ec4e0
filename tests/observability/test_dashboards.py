"""The Grafana dashboards in charts/parley/dashboards: valid dashboards, every panel's
PromQL parses with promtool, and every metric a panel or an alert reads is one the running
services export (scraped from real processes after traffic)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from parley_cli.canary import metrics as canary_metrics
from support import observability
from support.observability import Stack


def test_there_are_dashboards_for_the_api_real_time_auth_and_dependencies() -> None:
    titles = {board["uid"]: board["title"] for board in observability.dashboards().values()}
    assert titles == {
        "parley-api": "Parley / API",
        "parley-realtime": "Parley / Real-time",
        "parley-auth": "Parley / Auth",
        "parley-dependencies": "Parley / Dependencies",
    }


@pytest.mark.parametrize("name", sorted(observability.dashboards()))
def test_a_dashboard_is_grafana_json_whose_panels_query_prometheus_and_explain_themselves(
    name: str,
) -> None:
    board = observability.dashboards()[name]
    variables = {variable["name"] for variable in board["templating"]["list"]}
    assert variables == {"datasource", "namespace"}
    panels = observability.panels(board)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        for target in panel["targets"]:
            # Every series of the namespace picked, never another release's.
            for metric in observability.metric_names(target["expr"]):
                assert f'{metric}{{namespace="$namespace"' in target["expr"], (
                    panel["title"],
                    metric,
                )


def test_every_panel_query_parses_with_promtool(tmp_path: Path) -> None:
    queries = observability.queries()
    assert len(queries) > 30
    rules = [
        {"record": f"parley:panel_{number}", "expr": query.promql()}
        for number, query in enumerate(queries)
    ]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    output = observability.promtool("check", "rules", path).stdout
    assert f"SUCCESS: {len(rules)} rules found" in output


def test_every_metric_a_panel_or_an_alert_reads_is_exported_by_the_running_services(
    stack: Stack,
) -> None:
    observability.traffic(stack.auth.url, stack.chat.url)
    exported = observability.exported_names(stack.auth.url) | observability.exported_names(
        stack.chat.url
    )
    # The delivery canary's own metrics (parley-canary), as its registry exports them.
    exported |= {
        sample.name for family in canary_metrics.REGISTRY.collect() for sample in family.samples
    }
    expressions = {query.name: query.expr for query in observability.queries()}
    expressions |= {rule["alert"]: rule["expr"] for rule in observability.alert_rules()}
    read = {name: observability.metric_names(expr) for name, expr in expressions.items()}
    missing = {name: sorted(names - exported) for name, names in read.items() if names - exported}
    assert not missing
    # Besides Parley's own, only Prometheus's `up` (whether a target answers scrapes).
    assert all(
        read[name] or expr.startswith("sum by (job) (up{") for name, expr in expressions.items()
    )


def test_the_docs_explain_every_metric_the_services_export(stack: Stack) -> None:
    docs = observability.DOCS.read_text()
    for url in (stack.auth.url, stack.chat.url):
        for name in observability.exported_names(url):
            if not name.startswith("parley_"):
                continue  # the client library's own process_* and python_* metrics
            family = name.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
            family = family.removesuffix("_created")
            assert f"`{family}" in docs, f"docs/observability.md does not explain {family}"
