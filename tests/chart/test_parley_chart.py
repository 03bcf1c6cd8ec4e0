"""What the parley chart renders, checked against shared/API.md and the promises of its
values: probes, resources and a restricted security context on every container, stable
selectors, the Ingress's path split, the migration hooks, the generated Secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from support import charts

PARLEY = charts.cases("parley")
EVERY_CASE = charts.cases("parley") + charts.cases("parley-operator")
SERVICES = ("auth", "chat")


def by_id(case: charts.Case) -> str:
    return case.id


def default() -> list[charts.Manifest]:
    return charts.template("parley")


# Containers -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", EVERY_CASE, ids=by_id)
def test_every_container_has_resources_and_a_restricted_security_context(
    case: charts.Case,
) -> None:
    workloads = list(charts.pod_specs(charts.template(case)))
    assert workloads
    for workload, pod in workloads:
        where = f"{workload['kind']} {workload['metadata']['name']}"
        pod_context = pod["securityContext"]
        # The restricted Pod Security Standard, pod level.
        assert pod_context["runAsNonRoot"] is True, where
        assert pod_context["seccompProfile"]["type"] == "RuntimeDefault", where
        for field in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(field), where
        assert not [volume for volume in pod.get("volumes", []) if "hostPath" in volume], where
        for container in charts.containers(pod):
            where = f"{workload['kind']} {workload['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            assert not context["capabilities"].get("add"), where
            assert not context.get("privileged"), where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context.get("runAsUser", pod_context.get("runAsUser", 0)) >= 10000, where
            for need in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][need]), where
            # A read-only root needs somewhere to write: the emptyDir on /tmp.
            mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where


@pytest.mark.parametrize("case", EVERY_CASE, ids=by_id)
def test_every_long_running_container_has_liveness_and_readiness_probes(
    case: charts.Case,
) -> None:
    for deployment in charts.of_kind(charts.template(case), "Deployment"):
        for container in charts.containers(deployment["spec"]["template"]["spec"]):
            assert container["livenessProbe"], container["name"]
            assert container["readinessProbe"], container["name"]


@pytest.mark.parametrize("case", PARLEY, ids=by_id)
def test_services_probe_healthz_for_liveness_and_readyz_for_readiness(
    case: charts.Case,
) -> None:
    # shared/API.md "Deployment shape": /healthz while alive, /readyz while its database and
    # broker answer.
    for deployment in charts.of_kind(charts.template(case), "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


@pytest.mark.parametrize("component", SERVICES)
def test_each_deployment_serves_its_service_on_all_interfaces(component: str) -> None:
    deployment = charts.named(default(), "Deployment", f"parley-{component}")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [f"parley-{component}"]
    assert container["args"] == ["serve"]
    variables = charts.env(container)
    assert variables["PARLEY_HOST"] == "0.0.0.0"
    assert variables["PARLEY_PORT"] == "8000"
    # PARLEY_DATA_DIR's default is relative to a read-only working directory.
    assert variables["PARLEY_DATA_DIR"].startswith("/tmp/")
    for name in ("PARLEY_DATABASE_URL", "PARLEY_REDIS_URL", "PARLEY_ADMIN_TOKEN"):
        assert "secretKeyRef" in variables[name], name


def test_chat_finds_auth_through_the_auth_service() -> None:
    manifests = default()
    chat = charts.named(manifests, "Deployment", "parley-chat")
    auth_service = charts.named(manifests, "Service", "parley-auth")
    (container,) = chat["spec"]["template"]["spec"]["containers"]
    port = auth_service["spec"]["ports"][0]["port"]
    assert charts.env(container)["PARLEY_AUTH_URL"] == f"http://parley-auth:{port}"


def chat_rate_limits(*arguments: str) -> dict[str, str]:
    """The chat container's rate-limit settings, as setting names and values."""
    chat = charts.named(charts.template("parley", *arguments), "Deployment", "parley-chat")
    (container,) = chat["spec"]["template"]["spec"]["containers"]
    return {
        name.removeprefix("PARLEY_").lower(): value
        for name, value in charts.env(container).items()
        if name.endswith(("_PER_MINUTE", "_PER_HOUR"))
    }


def test_the_chat_rate_limits_are_chat_settings_with_the_settings_defaults() -> None:
    from parley_chat.settings import ChatSettings

    limits = chat_rate_limits()
    assert len(limits) == 6, limits
    defaults = ChatSettings(_env_file=None)
    for name, value in limits.items():
        assert name in ChatSettings.model_fields, name
        assert value == str(getattr(defaults, name)), name


def test_a_large_chat_rate_limit_renders_as_digits_the_settings_accept() -> None:
    from parley_chat.settings import ChatSettings

    limits = chat_rate_limits("--set", "chat.rateLimits.chatsJoinedPerHour=10000000")
    assert limits["chats_joined_per_hour"] == "10000000"
    values: dict[str, Any] = {**limits}
    assert ChatSettings(_env_file=None, **values).chats_joined_per_hour == 10_000_000


def test_auth_reads_its_signing_key_from_a_mounted_secret() -> None:
    manifests = default()
    auth = charts.named(manifests, "Deployment", "parley-auth")
    pod = auth["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    key_file = Path(charts.env(container)["PARLEY_SIGNING_KEY_FILE"])
    (mount,) = (m for m in container["volumeMounts"] if m["name"] == "signing-key")
    assert key_file.parent == Path(mount["mountPath"])
    assert mount["readOnly"] is True
    (volume,) = (v for v in pod["volumes"] if v["name"] == "signing-key")
    assert volume["secret"]["items"][0]["path"] == key_file.name
    charts.named(manifests, "Secret", volume["secret"]["secretName"])


# Selectors --------------------------------------------------------------------------------


def _selectors(manifests: list[charts.Manifest]) -> dict[str, object]:
    found: dict[str, object] = {}
    for doc in manifests:
        spec = doc.get("spec", {})
        key = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] in ("Deployment", "PodDisruptionBudget") or doc["kind"] == "Service":
            found[key] = spec["selector"]
    return found


@pytest.mark.parametrize("chart", ["parley", "parley-operator"])
def test_selector_labels_stay_the_same_across_chart_and_app_versions(
    chart: str, tmp_path: Path
) -> None:
    copy = tmp_path / chart
    copy.mkdir()
    for item in (charts.CHARTS / chart).iterdir():
        target = copy / item.name
        if item.is_dir():
            target.symlink_to(item, target_is_directory=True)
        elif item.name != "Chart.yaml":
            target.symlink_to(item)
    metadata = yaml.safe_load((charts.CHARTS / chart / "Chart.yaml").read_text())
    metadata.update(version="99.1.0", appVersion="99.2.0")
    (copy / "Chart.yaml").write_text(yaml.safe_dump(metadata))

    before = _selectors(charts.template(chart, release=chart))
    after = _selectors(charts.template(copy, release=chart))
    assert before
    assert before == after
    rendered = json.dumps(after)
    assert "0.1.0" not in rendered
    assert "99." not in rendered
    assert "helm.sh/chart" not in rendered


@pytest.mark.parametrize("case", PARLEY, ids=by_id)
def test_selectors_name_exactly_the_pods_of_their_component(case: charts.Case) -> None:
    manifests = charts.template(case)
    for component in SERVICES:
        deployment = charts.named(manifests, "Deployment", f"parley-{component}")
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector == {
            "app.kubernetes.io/name": "parley",
            "app.kubernetes.io/instance": "parley",
            "app.kubernetes.io/component": component,
        }
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        service = charts.named(manifests, "Service", f"parley-{component}")
        assert service["spec"]["selector"] == selector
        for budget in charts.of_kind(manifests, "PodDisruptionBudget"):
            if budget["metadata"]["name"] == f"parley-{component}":
                assert budget["spec"]["selector"]["matchLabels"] == selector


# Ingress ----------------------------------------------------------------------------------


# Every path of shared/API.md with the service that must answer it (None: never routed).
# Copied from the contract rather than read from ../shared, which a clone of this
# repository alone (CI's) does not have; the contract's paths are fixed.
API_PATHS: dict[str, str | None] = {
    "/v1/auth/register": "auth",
    "/v1/auth/login": "auth",
    "/v1/auth/refresh": "auth",
    "/v1/auth/logout": "auth",
    "/v1/auth/me": "auth",
    "/v1/users": "auth",
    "/.well-known/jwks.json": "auth",
    "/v1/chats": "chat",
    "/v1/chats/{chat_id}": "chat",
    "/v1/chats/{chat_id}/members": "chat",
    "/v1/chats/{chat_id}/members/{username}": "chat",
    "/v1/chats/{chat_id}/messages": "chat",
    "/v1/chats/{chat_id}/messages/{seq}": "chat",
    "/v1/chats/{chat_id}/read": "chat",
    "/v1/stream": "chat",
    "/internal/v1/tenants/{slug}": None,
    "/internal/v1/tenants/{slug}/users/{username}": None,
}


def route(ingress: charts.Manifest, path: str) -> str | None:
    """The backend Service of a request path: Kubernetes' Prefix match, longest first."""
    best: tuple[int, str] | None = None
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            assert entry["pathType"] == "Prefix"
            prefix = entry["path"].rstrip("/").split("/")
            if path.split("/")[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
                best = (len(prefix), entry["backend"]["service"]["name"])
    return best[1] if best else None


@pytest.mark.parametrize("case", [c for c in PARLEY if "existing-secrets" not in c.id], ids=by_id)
def test_ingress_routes_each_public_path_to_its_service_and_never_internal(
    case: charts.Case,
) -> None:
    manifests = charts.template(case)
    (ingress,) = charts.of_kind(manifests, "Ingress")
    for path, service in API_PATHS.items():
        expected = f"parley-{service}" if service else None
        assert route(ingress, path.replace("{", "x").replace("}", "x")) == expected, path
    for path in ("/internal", "/healthz", "/readyz", "/metrics", "/", "/v1", "/v1/authx"):
        assert route(ingress, path) is None, path
    services_by_name = {s["metadata"]["name"]: s for s in charts.of_kind(manifests, "Service")}
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            backend = entry["backend"]["service"]
            ports = {p["name"] for p in services_by_name[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in ports


def test_ingress_keeps_idle_websockets_open_on_ingress_nginx() -> None:
    (ingress,) = charts.of_kind(default(), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    annotations = ingress["metadata"]["annotations"]
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{name}"]) >= 3600


def test_ingress_annotations_of_other_classes_are_not_nginx_ones() -> None:
    (ingress,) = charts.of_kind(
        charts.template("parley", "--set", "ingress.className=traefik"), "Ingress"
    )
    assert not ingress["metadata"].get("annotations")


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
    assert not any("helm.sh/hook" in doc["metadata"].get("annotations", {}) for doc in manifests)


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
    helm = charts.require(charts.HELM, "helm")
    result = subprocess.run(
        [helm, "template", "parley", charts.CHARTS / "parley", "--set", "externalDatabase.url="],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "externalDatabase.url" in result.stderr


# Scaling and availability -----------------------------------------------------------------


def test_ha_values_run_three_chat_replicas_under_an_hpa_and_pdbs() -> None:
    (case,) = (c for c in PARLEY if "-ha" in c.id)
    manifests = charts.template(case)
    for component in SERVICES:
        deployment = charts.named(manifests, "Deployment", f"parley-{component}")
        # The HPA owns the replica count; a fixed one would fight it on every upgrade.
        assert "replicas" not in deployment["spec"]
        hpa = charts.named(manifests, "HorizontalPodAutoscaler", f"parley-{component}")
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": f"parley-{component}",
        }
        charts.named(manifests, "PodDisruptionBudget", f"parley-{component}")
    chat_hpa = charts.named(manifests, "HorizontalPodAutoscaler", "parley-chat")
    assert chat_hpa["spec"]["minReplicas"] == 3


def test_default_values_run_two_replicas_of_each_service_behind_a_pdb() -> None:
    manifests = default()
    for component in SERVICES:
        assert charts.named(manifests, "Deployment", f"parley-{component}")["spec"]["replicas"] == 2
        budget = charts.named(manifests, "PodDisruptionBudget", f"parley-{component}")
        assert budget["spec"]["maxUnavailable"] == 1
    assert not charts.of_kind(manifests, "HorizontalPodAutoscaler")


# NetworkPolicies --------------------------------------------------------------------------


def _peers(policy: charts.Manifest) -> list[charts.Manifest]:
    return [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]


def test_network_policies_admit_only_the_ingress_controller_operator_prometheus_and_chat() -> None:
    (case,) = (c for c in PARLEY if "networkpolicy" in c.id)
    manifests = charts.template(case)
    auth = charts.named(manifests, "NetworkPolicy", "parley-auth")
    chat = charts.named(manifests, "NetworkPolicy", "parley-chat")
    for policy in (auth, chat):
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"]["ingress"]:
            # Never an empty `from` (everyone) or an empty peer (every pod).
            assert rule["from"]
            assert all(peer for peer in rule["from"])
        peers = _peers(policy)
        labels = [peer.get("podSelector", {}).get("matchLabels") for peer in peers]
        assert {"app.kubernetes.io/name": "ingress-nginx"} in labels
        assert {"app.kubernetes.io/name": "parley-operator"} in labels
        assert {"app.kubernetes.io/name": "prometheus"} in labels
    chat_pods = charts.named(manifests, "Deployment", "parley-chat")["spec"]["selector"]
    assert {"podSelector": chat_pods} in _peers(auth)
    assert {"podSelector": chat_pods} not in _peers(chat)
    # The operator chart's pods carry the label the policies admit.
    operator = charts.named(charts.template("parley-operator"), "Deployment", "parley-operator")
    assert operator["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == (
        "parley-operator"
    )


def test_network_policies_are_on_by_default_and_admit_only_the_known_callers() -> None:
    manifests = default()
    for component in SERVICES:
        policy = charts.named(manifests, "NetworkPolicy", f"parley-{component}")
        (rule,) = policy["spec"]["ingress"]
        assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
        names = [peer["podSelector"].get("matchLabels", {}) for peer in rule["from"]]
        expected = [
            {"app.kubernetes.io/name": "ingress-nginx"},
            {"app.kubernetes.io/name": "parley-operator"},
            {"app.kubernetes.io/name": "prometheus"},
        ]
        assert [name for name in names if "app.kubernetes.io/component" not in name] == expected
        pods = charts.named(manifests, "Deployment", f"parley-{component}")["spec"]["selector"]
        assert policy["spec"]["podSelector"] == pods
    assert charts.named(manifests, "NetworkPolicy", "parley-migrate")["spec"]["ingress"] == []


def test_by_default_no_proxy_is_trusted_to_name_the_client_address() -> None:
    for component in SERVICES:
        deployment = charts.named(default(), "Deployment", f"parley-{component}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert charts.env(container)["PARLEY_FORWARDED_ALLOW_IPS"] == ""


def test_a_wildcard_proxy_trust_is_refused_by_the_schema() -> None:
    # uvicorn would take the leftmost X-Forwarded-For entry, which the client writes.
    helm = charts.require(charts.HELM, "helm")
    for value in ("*", "10.0.0.0/8\\,*"):  # --set splits on unescaped commas
        result = subprocess.run(
            [
                helm,
                "template",
                "parley",
                charts.CHARTS / "parley",
                "--set-string",
                f"config.forwardedAllowIps={value}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0, value
        assert "forwardedAllowIps" in result.stderr, value


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


# Values -----------------------------------------------------------------------------------


def test_unknown_values_are_refused_by_the_schema() -> None:
    helm = charts.require(charts.HELM, "helm")
    for setting in ("auth.replica=3", "ingress.hosts[0]=x", "typo=1"):
        result = subprocess.run(
            [helm, "template", "parley", charts.CHARTS / "parley", "--set", setting],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0, setting
        assert "additional properties" in result.stderr, setting


def test_notes_tell_how_to_reach_the_api_and_create_the_first_tenant() -> None:
    helm = charts.require(charts.HELM, "helm")
    output = charts.run(
        helm,
        "install",
        "parley",
        charts.CHARTS / "parley",
        "--namespace",
        "parley",
        "--dry-run=client",
        "--set",
        "ingress.host=chat.example.com",
    )
    notes = output[output.index("NOTES:") :]
    assert "export API=http://chat.example.com" in notes
    assert "kind: Tenant" in notes
    assert "apiVersion: parley.dev/v1alpha1" in notes
    assert "parley-admin-token" in notes


def test_prometheus_rules_pass_promtool_where_it_is_installed(tmp_path: Path) -> None:
    # promtool comes with Debian's `prometheus` package, which the chart checks do not
    # install; the rule shapes above are checked either way.
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    (case,) = (c for c in PARLEY if "networkpolicy" in c.id)
    (rule,) = charts.of_kind(charts.template(case), "PrometheusRule")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    assert "SUCCESS" in charts.run(promtool, "check", "rules", rules)
