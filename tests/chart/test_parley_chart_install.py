"""What the parley chart renders around the services: the migration hooks, the generated
Secrets and the monitoring objects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from support import charts
from support.parley_chart import PARLEY, SERVICES, by_id, default

# Migrations -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", PARLEY, ids=by_id)
def test_a_pre_install_and_pre_upgrade_job_runs_each_services_migrate(case: charts.Case) -> None:
    manifests = charts.template(case)
    jobs = {job["metadata"]["name"]: job for job in charts.of_kind(manifests, "Job")}
    assert set(jobs) == {"parley-auth-migrate", "parley-chat-migrate"}
    for component in SERVICES:
        job = jobs[f"parley-{component}-migrate"]
        annotations = job["metadata"]["annotations"]
        assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["command"] == [f"parley-{component}"]
        assert container["args"] == ["migrate"]
        deployment = charts.named(manifests, "Deployment", f"parley-{component}")
        (served,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == served["image"]
        # The Job runs before the release's other objects exist: what it reads must be a
        # hook created before it, or a Secret made outside the chart.
        assert "serviceAccountName" not in pod
        reference = charts.env(container)["PARLEY_DATABASE_URL"]["secretKeyRef"]
        owned = [
            s
            for s in charts.of_kind(manifests, "Secret")
            if s["metadata"]["name"] == reference["name"]
        ]
        if owned:
            (secret,) = owned
            hook = secret["metadata"]["annotations"]
            assert "pre-install" in hook["helm.sh/hook"]
            assert int(hook["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
            assert reference["key"] in secret["data"]


def test_the_migration_jobs_can_be_turned_off() -> None:
    manifests = charts.template("parley", "--set", "migrations.enabled=false")
    assert not charts.of_kind(manifests, "Job")
    hooks = {doc["metadata"].get("annotations", {}).get("helm.sh/hook") for doc in manifests}
    assert hooks <= {None, "test"}  # only the `helm test` Pods are left


# Secrets ----------------------------------------------------------------------------------


def test_first_install_generates_an_admin_token_and_an_ed25519_signing_key() -> None:
    manifests = default()
    token = charts.named(manifests, "Secret", "parley-admin-token")
    assert len(charts.b64(token["data"]["admin-token"])) >= 32
    key = charts.named(manifests, "Secret", "parley-signing-key")
    pem = charts.b64(key["data"]["signing-key.pem"]).encode()
    # The form parley-auth loads (services/auth: load_pem_private_key, Ed25519 only).
    assert isinstance(serialization.load_pem_private_key(pem, password=None), Ed25519PrivateKey)


def test_generated_secrets_are_looked_up_so_upgrades_keep_them() -> None:
    # `helm template` cannot reach a cluster, so this reads the template: the value is taken
    # from the live Secret when there is one, and generated only otherwise.
    template = (charts.CHARTS / "parley" / "templates" / "secret.yaml").read_text()
    assert template.count('lookup "v1" "Secret"') == 2
    assert template.count("$existing.data") >= 4


def test_existing_secrets_replace_every_generated_secret() -> None:
    (case,) = (c for c in PARLEY if "existing-secrets" in c.id)
    manifests = charts.template(case)
    assert not charts.of_kind(manifests, "Secret")
    assert case.values is not None
    values = yaml.safe_load(case.values.read_text())
    auth = charts.named(manifests, "Deployment", "parley-auth")
    chat = charts.named(manifests, "Deployment", "parley-chat")
    (auth_container,) = auth["spec"]["template"]["spec"]["containers"]
    (chat_container,) = chat["spec"]["template"]["spec"]["containers"]

    def ref(container: charts.Manifest, name: str) -> tuple[str, str]:
        reference = charts.env(container)[name]["secretKeyRef"]
        return reference["name"], reference["key"]

    def source(entry: dict[str, str]) -> tuple[str, str]:
        return entry["existingSecret"], entry["existingSecretKey"]

    assert ref(auth_container, "PARLEY_DATABASE_URL") == source(values["auth"]["database"])
    assert ref(chat_container, "PARLEY_DATABASE_URL") == source(values["externalDatabase"])
    assert ref(chat_container, "PARLEY_REDIS_URL") == source(values["externalRedis"])
    assert ref(chat_container, "PARLEY_ADMIN_TOKEN") == source(values["adminToken"])
    (volume,) = (v for v in auth["spec"]["template"]["spec"]["volumes"] if "secret" in v)
    assert volume["secret"]["secretName"] == values["auth"]["signingKey"]["existingSecret"]
    assert volume["secret"]["items"][0]["key"] == values["auth"]["signingKey"]["existingSecretKey"]
    assert auth_container["image"].endswith("@" + values["auth"]["image"]["digest"])


def test_a_database_url_per_service_overrides_the_shared_one() -> None:
    manifests = charts.template("parley", "--set", "chat.database.url=postgresql://chat@db/chat")
    connection = charts.named(manifests, "Secret", "parley-connection")
    assert charts.b64(connection["data"]["chat-database-url"]) == "postgresql://chat@db/chat"
    chat = charts.named(manifests, "Deployment", "parley-chat")
    (container,) = chat["spec"]["template"]["spec"]["containers"]
    assert charts.env(container)["PARLEY_DATABASE_URL"]["secretKeyRef"]["key"] == (
        "chat-database-url"
    )


def test_no_database_at_all_is_refused_with_a_message() -> None:
    assert "externalDatabase.url" in charts.render_error("parley", "--set", "externalDatabase.url=")


# Monitoring -------------------------------------------------------------------------------


def test_service_monitor_and_prometheus_rule_render_only_when_enabled() -> None:
    assert not charts.of_kind(default(), "ServiceMonitor")
    assert not charts.of_kind(default(), "PrometheusRule")
    (case,) = (c for c in PARLEY if "networkpolicy" in c.id)
    manifests = charts.template(case)
    (monitor,) = charts.of_kind(manifests, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] == "http"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    expressions = monitor["spec"]["selector"]["matchExpressions"]
    assert {"key": "app.kubernetes.io/component", "operator": "In", "values": ["auth", "chat"]} in (
        expressions
    )


def test_prometheus_rules_alert_on_targets_errors_and_latency_from_parley_metrics() -> None:
    (case,) = (c for c in PARLEY if "networkpolicy" in c.id)
    (rule,) = charts.of_kind(charts.template(case), "PrometheusRule")
    groups = rule["spec"]["groups"]
    alerts = {r["alert"]: r for group in groups for r in group["rules"]}
    assert {"ParleyTargetDown", "ParleyHighErrorRate", "ParleyHighLatency"} <= set(alerts)
    assert "parley_http_requests_total" in alerts["ParleyHighErrorRate"]["expr"]
    assert "parley_http_request_duration_seconds_bucket" in alerts["ParleyHighLatency"]["expr"]
    assert "ParleyChatRestarting" in alerts  # additionalRuleGroups
    own = {
        r["alert"] for group in groups if group["name"] == "parley.rules" for r in group["rules"]
    }
    for name, alert in alerts.items():
        assert alert["labels"]["severity"] in ("critical", "warning"), name
        assert alert["annotations"]["summary"], name
        assert alert["expr"].count("(") == alert["expr"].count(")"), name
        if name.startswith("Parley") and name != "ParleyChatRestarting":
            assert alert["labels"]["team"] == "chat", name
        if name in own:
            # The chart's templated alerts; those of rules/*.yaml group by namespace instead.
            assert 'namespace="parley-03-networkpolicy"' in alert["expr"], name


def test_dashboards_ship_as_configmaps_for_the_grafana_sidecar(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "parley"
    shutil.copytree(charts.CHARTS / "parley", copy)
    (copy / "dashboards").mkdir(exist_ok=True)
    (copy / "dashboards" / "parley-overview.json").write_text('{"title": "Parley"}')
    (copy / "rules").mkdir(exist_ok=True)
    (copy / "rules" / "extra.yaml").write_text(
        "groups:\n  - name: parley.extra\n    rules:\n"
        "      - alert: ParleyExtra\n        expr: vector(1)\n"
    )
    manifests = charts.template(copy, "--set", "prometheusRule.enabled=true")
    configmaps = [
        c for c in charts.of_kind(manifests, "ConfigMap") if "dashboard" in c["metadata"]["name"]
    ]
    (added,) = (
        c for c in configmaps if c["metadata"]["name"] == "parley-dashboard-parley-overview"
    )
    assert all(c["metadata"]["labels"]["grafana_dashboard"] == "1" for c in configmaps)
    assert json.loads(added["data"]["parley-overview.json"]) == {"title": "Parley"}
    (rule,) = charts.of_kind(manifests, "PrometheusRule")
    assert "parley.extra" in [group["name"] for group in rule["spec"]["groups"]]
