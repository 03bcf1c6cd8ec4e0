"""The parley chart's alerts link to their runbooks and can be tuned one by one: every alert,
the chart's own and those of its rules/ folder, carries a `runbook_url` to its heading in
docs/observability.md, and prometheusRule.alerts turns one off or changes its `for` and
severity."""

from __future__ import annotations

import re
import subprocess

import pytest

from support import charts

DOCS = charts.REPO / "docs" / "observability.md"
BASE = "https://github.com/parley-dev/parley/blob/main/docs/observability.md"


def alerts(*arguments: str) -> dict[str, charts.Manifest]:
    manifests = charts.template("parley", "--set", "prometheusRule.enabled=true", *arguments)
    (rule,) = charts.of_kind(manifests, "PrometheusRule")
    return {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}


def anchors() -> set[str]:
    """The anchors GitHub gives the headings of docs/observability.md."""
    headings = re.findall(r"^#+ (.+)$", DOCS.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_alert_links_to_its_own_heading_in_the_observability_docs() -> None:
    shipped = alerts()
    assert len(shipped) >= 11
    for name, alert in shipped.items():
        url = alert["annotations"]["runbook_url"]
        assert url == f"{BASE}#{name.lower()}", name
        assert name.lower() in anchors(), f"docs/observability.md has no heading {name}"


def test_the_runbook_base_url_is_configurable_and_can_be_left_out() -> None:
    moved = alerts("--set", "prometheusRule.runbookBaseUrl=https://wiki.example.com/parley/")
    assert moved["ParleyNotReady"]["annotations"]["runbook_url"] == (
        "https://wiki.example.com/parley#parleynotready"
    )
    assert moved["ParleyHighLatency"]["annotations"]["runbook_url"] == (
        "https://wiki.example.com/parley#parleyhighlatency"
    )
    unlinked = alerts("--set", "prometheusRule.runbookBaseUrl=")
    assert not [name for name, a in unlinked.items() if "runbook_url" in a["annotations"]]


def test_one_alert_can_be_turned_off_or_given_its_own_duration_and_severity() -> None:
    tuned = alerts(
        "--set",
        "prometheusRule.alerts.ParleyNotReady.enabled=false",
        "--set",
        "prometheusRule.alerts.ParleyTargetDown.enabled=false",
        "--set",
        "prometheusRule.alerts.ParleyHighLatency.for=30m",
        "--set",
        "prometheusRule.alerts.ParleyDeliveryDelayHigh.severity=critical",
        "--set",
        "prometheusRule.additionalLabels.team=chat",
    )
    assert "ParleyNotReady" not in tuned
    assert "ParleyTargetDown" not in tuned
    assert "ParleyDependencyDown" in tuned
    assert tuned["ParleyHighLatency"]["for"] == "30m"
    assert tuned["ParleyDeliveryDelayHigh"]["labels"] == {"severity": "critical", "team": "chat"}
    assert tuned["ParleyHighErrorRate"]["for"] == "10m"
    assert tuned["ParleyHighErrorRate"]["labels"]["severity"] == "warning"


@pytest.mark.parametrize(
    "setting",
    [
        "prometheusRule.alerts.ParleyNoSuchAlert.enabled=false",
        "prometheusRule.alerts.ParleyNotReady.severity=page",
        "prometheusRule.alerts.ParleyNotReady.for=soon",
        "prometheusRule.alerts.ParleyNotReady.threshold=3",
    ],
)
def test_a_misspelt_alert_setting_fails_the_render(setting: str) -> None:
    helm = charts.require(charts.HELM, "helm")
    result = subprocess.run(
        [
            helm,
            "template",
            "parley",
            charts.CHARTS / "parley",
            "--set",
            "prometheusRule.enabled=true",
            "--set",
            setting,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0, setting
    assert "prometheusRule.alerts" in result.stderr or "alerts" in result.stderr, setting
