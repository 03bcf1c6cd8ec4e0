"""What the parley chart renders, checked against docs/api.md and the promises of its
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

from support import charts
from support.parley_chart import EVERY_CASE, PARLEY, SERVICES, by_id, default

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
    # docs/api.md "Deployment shape": /healthz while alive, /readyz while its database and
    # broker answer. The services' liveness goes through their gRPC server's health service
    # (test_parley_grpc.py), which only answers while the process lives too.
    for deployment in charts.of_kind(charts.template(case), "Deployment"):
        component = deployment["metadata"]["labels"]["app.kubernetes.io/component"]
        if component == "canary":
            continue  # a client, not a service: it has only its /metrics
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        http = {"name": "http", "containerPort": 8000, "protocol": "TCP"}
        if component == "web":
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["ports"] == [http]
        else:
            assert container["livenessProbe"]["grpc"] == {"port": 50051}
            assert container["ports"] == [
                http,
                {"name": "grpc", "containerPort": 50051, "protocol": "TCP"},
            ]
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


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
    assert len(limits) == 7, limits
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
