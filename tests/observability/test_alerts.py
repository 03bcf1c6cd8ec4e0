"""The alerts: every rule parses, every alert has `promtool test rules` cases that fire it
on the series it is about and keep it quiet on healthy ones, and the chart ships them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from support import charts, observability

HERE = Path(__file__).parent
EXPECTED = {
    # issue 5: a high 5xx ratio and p99 latency (the chart's own), delivery delay,
    # disconnect storms, readiness failing and the circuit open; and what a 3 a.m. page
    # needs besides.
    "ParleyHighErrorRate",
    "ParleyHighLatency",
    "ParleyDeliveryDelayHigh",
    "ParleyDisconnectStorm",
    "ParleyNotReady",
    "ParleyDependencyDown",
    "ParleyAuthCircuitOpen",
    "ParleyBrokerSubscriptionDown",
    "ParleyDatabasePoolSaturated",
}


def _rendered_rules(tmp_path: Path) -> Path:
    """The chart's PrometheusRule groups (its own alerts and rules/*.yaml), as promtool
    reads a rules file; release `parley` in namespace `parley`."""
    helm = charts.require(charts.HELM, "helm")
    manifest = subprocess.run(
        [
            helm,
            "template",
            "parley",
            charts.CHARTS / "parley",
            "--namespace",
            "parley",
            "--set",
            "prometheusRule.enabled=true",
            "--show-only",
            "templates/prometheusrule.yaml",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = tmp_path / "rendered-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": yaml.safe_load(manifest)["spec"]["groups"]}))
    return path


def _tested_alerts(test_file: Path) -> set[str]:
    cases = yaml.safe_load(test_file.read_text())["tests"]
    return {check["alertname"] for case in cases for check in case.get("alert_rule_test", [])}


def test_the_rule_files_pass_promtool_check() -> None:
    for path in observability.RULES.glob("*.yaml"):
        observability.promtool("check", "rules", path)


def test_every_alert_in_the_rule_files_fires_and_stays_quiet_as_its_promtool_tests_say() -> None:
    alerts = {rule["alert"] for rule in observability.alert_rules() if "alert" in rule}
    assert _tested_alerts(HERE / "alerts_test.yaml") == alerts
    output = observability.promtool("test", "rules", "alerts_test.yaml", cwd=HERE).stdout
    assert "SUCCESS" in output


def test_the_charts_own_5xx_and_latency_alerts_fire_as_their_promtool_tests_say(
    tmp_path: Path,
) -> None:
    rendered = _rendered_rules(tmp_path)
    observability.promtool("check", "rules", rendered)
    shutil.copy(HERE / "chart_alerts_test.yaml", tmp_path)
    output = observability.promtool("test", "rules", "chart_alerts_test.yaml", cwd=tmp_path).stdout
    assert "SUCCESS" in output
    assert _tested_alerts(HERE / "chart_alerts_test.yaml") == {
        "ParleyHighErrorRate",
        "ParleyHighLatency",
    }


def test_the_chart_ships_every_alert_with_a_severity_summary_and_runbook(tmp_path: Path) -> None:
    rendered = yaml.safe_load(_rendered_rules(tmp_path).read_text())
    alerts = {rule["alert"]: rule for group in rendered["groups"] for rule in group["rules"]}
    assert set(alerts) >= EXPECTED
    docs = observability.DOCS.read_text()
    for name in EXPECTED:
        assert alerts[name]["labels"]["severity"] in ("warning", "critical"), name
        assert alerts[name]["annotations"]["summary"], name
        assert f"### {name}" in docs, f"docs/observability.md has no section for {name}"
        runbook = alerts[name]["annotations"].get("runbook")
        if runbook:
            assert runbook == f"docs/observability.md#{name.lower()}", name
