"""The operator chart's alerts: they parse, and `promtool test rules` shows each firing on
the series it is about and staying quiet on healthy ones (operator_alerts_test.yaml)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from support import charts, observability

HERE = Path(__file__).parent
EXPECTED = {"ParleyTenantNotReady", "ParleyOperatorReconcileErrors"}


def rendered_rules(directory: Path) -> Path:
    """The chart's PrometheusRule groups as promtool reads a rules file."""
    (rule,) = charts.of_kind(
        charts.template(
            "parley-operator", "--set", "prometheusRule.enabled=true", namespace="parley"
        ),
        "PrometheusRule",
    )
    path = directory / "rendered-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def test_the_operator_alerts_pass_promtool_check(tmp_path: Path) -> None:
    observability.promtool("check", "rules", rendered_rules(tmp_path))


def test_each_operator_alert_fires_and_stays_quiet_as_its_promtool_tests_say(
    tmp_path: Path,
) -> None:
    rules = yaml.safe_load(rendered_rules(tmp_path).read_text())["groups"]
    alerts = {rule["alert"] for group in rules for rule in group["rules"] if "alert" in rule}
    assert alerts == EXPECTED
    cases = yaml.safe_load((HERE / "operator_alerts_test.yaml").read_text())["tests"]
    tested = {check["alertname"] for case in cases for check in case["alert_rule_test"]}
    assert tested == EXPECTED
    shutil.copy(HERE / "operator_alerts_test.yaml", tmp_path)
    output = observability.promtool(
        "test", "rules", "operator_alerts_test.yaml", cwd=tmp_path
    ).stdout
    assert "SUCCESS" in output
