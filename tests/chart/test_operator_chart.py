"""The parley-operator chart grants the operator exactly what it uses (least privilege),
where it uses it, and points it at the services of the parley chart."""

from __future__ import annotations

import jsonschema
import pytest

from support import charts

OPERATOR = charts.cases("parley-operator")
TENANT_RESOURCES = {"tenants", "tenants/status", "tenants/finalizers"}


def by_id(case: charts.Case) -> str:
    return case.id


def rules_by_resource(role: charts.Manifest) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found.setdefault(f"{group}/{resource}", set()).update(rule["verbs"])
    return found


@pytest.mark.parametrize("case", OPERATOR, ids=by_id)
def test_no_rule_uses_wildcards_or_escalating_verbs(case: charts.Case) -> None:
    for role in charts.of_kind(charts.template(case), "Role") + charts.of_kind(
        charts.template(case), "ClusterRole"
    ):
        for rule in role["rules"]:
            for field in ("apiGroups", "resources", "verbs"):
                assert "*" not in rule[field], role["metadata"]["name"]
            refused = {"escalate", "bind", "impersonate", "deletecollection"}
            if rule["resources"] != ["secrets"]:
                # Only the server-key Secrets of a key removed from a spec are deleted.
                refused.add("delete")
            assert not refused & set(rule["verbs"])


def test_by_default_the_operator_reconciles_its_own_namespace_with_a_role() -> None:
    manifests = charts.template("parley-operator")
    (role,) = charts.of_kind(manifests, "Role")
    assert role["metadata"]["namespace"] == "parley"
    rules = rules_by_resource(role)
    assert rules["parley.dev/tenants"] == {"get", "list", "watch", "patch", "update"}
    assert rules["parley.dev/tenants/status"] == {"get", "patch", "update"}
    assert rules["parley.dev/tenants/finalizers"] == {"update"}
    assert rules["/secrets"] == {"get", "create", "patch", "delete"}
    assert rules["/events"] == rules["events.k8s.io/events"] == {"create"}
    # Nothing cluster-wide but reading CRDs and namespaces (kopf lists them at start-up).
    (cluster_role,) = charts.of_kind(manifests, "ClusterRole")
    assert rules_by_resource(cluster_role) == {
        "apiextensions.k8s.io/customresourcedefinitions": {"get", "list", "watch"},
        "/namespaces": {"list", "watch"},
    }
    deployment = charts.named(manifests, "Deployment", "parley-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--namespace=parley" in container["args"]
    assert "--all-namespaces" not in container["args"]


def test_named_namespaces_get_a_role_each_and_a_watch_each() -> None:
    (case,) = (c for c in OPERATOR if "namespaces" in c.id)
    manifests = charts.template(case)
    roles = {role["metadata"]["namespace"] for role in charts.of_kind(manifests, "Role")}
    bindings = charts.of_kind(manifests, "RoleBinding")
    assert roles == {binding["metadata"]["namespace"] for binding in bindings}
    assert roles == {"tenants-eu", "tenants-us"}
    for binding in bindings:
        (subject,) = binding["subjects"]
        assert subject == {
            "kind": "ServiceAccount",
            "name": "parley-operator",
            "namespace": case.namespace,
        }
    deployment = charts.named(manifests, "Deployment", "parley-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert [a for a in container["args"] if a.startswith("--namespace")] == [
        "--namespace=tenants-eu",
        "--namespace=tenants-us",
    ]


def test_cluster_wide_grants_tenants_and_secrets_everywhere_and_watches_namespaces() -> None:
    (case,) = (c for c in OPERATOR if c.id.endswith("/02-cluster-wide"))
    manifests = charts.template(case)
    assert not charts.of_kind(manifests, "Role")
    cluster_roles = {
        role["metadata"]["name"]: role for role in charts.of_kind(manifests, "ClusterRole")
    }
    rules = rules_by_resource(cluster_roles["parley-operator"])
    assert {f"parley.dev/{resource}" for resource in TENANT_RESOURCES} <= set(rules)
    assert rules_by_resource(cluster_roles["parley-operator-discovery"])["/namespaces"] == {
        "list",
        "watch",
    }
    bound = {b["roleRef"]["name"] for b in charts.of_kind(manifests, "ClusterRoleBinding")}
    assert bound == set(cluster_roles)
    deployment = charts.named(manifests, "Deployment", "parley-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--all-namespaces" in container["args"]


def test_the_operator_calls_the_parley_services_with_the_admin_token() -> None:
    operator = charts.named(charts.template("parley-operator"), "Deployment", "parley-operator")
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["parley-operator"]
    assert container["args"][0] == "run"
    variables = charts.env(container)
    parley = charts.template("parley")
    for name, component in (("PARLEY_AUTH_URL", "auth"), ("PARLEY_CHAT_URL", "chat")):
        service = charts.named(parley, "Service", f"parley-{component}")
        assert variables[name] == f"http://parley-{component}:{service['spec']['ports'][0]['port']}"
    # The default names the parley chart's generated admin-token Secret.
    reference = variables["PARLEY_ADMIN_TOKEN"]["secretKeyRef"]
    secret = charts.named(parley, "Secret", reference["name"])
    assert reference["key"] in secret["data"]


def args_of(manifests: list[charts.Manifest]) -> list[str]:
    deployment = charts.named(manifests, "Deployment", "parley-operator")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args: list[str] = container["args"]
    return args


def test_one_replica_runs_standalone_without_peering_objects_or_rights() -> None:
    manifests = charts.template("parley-operator")
    operator = charts.named(manifests, "Deployment", "parley-operator")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    assert "--standalone" in args_of(manifests)
    assert not [arg for arg in args_of(manifests) if arg.startswith("--peering")]
    assert not charts.of_kind(manifests, "KopfPeering")
    assert not charts.of_kind(manifests, "ClusterKopfPeering")
    for role in charts.of_kind(manifests, "Role") + charts.of_kind(manifests, "ClusterRole"):
        assert not {key for key in rules_by_resource(role) if key.startswith("kopf.dev/")}


def test_several_namespaced_replicas_peer_through_a_kopfpeering_in_each_watched_namespace() -> None:
    manifests = charts.template("parley-operator", "--set", "replicaCount=2")
    operator = charts.named(manifests, "Deployment", "parley-operator")
    assert operator["spec"]["replicas"] == 2
    # A new pod stands by before an old one stops: a rollout never leaves none running.
    assert operator["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    args = args_of(manifests)
    assert "--peering=parley-operator" in args
    assert "--standalone" not in args
    # No fixed --priority: each pod draws its own, or kopf would pause them all.
    assert not [arg for arg in args if arg.startswith(("--priority", "-p"))]
    (peering,) = charts.of_kind(manifests, "KopfPeering")
    assert peering["apiVersion"] == "kopf.dev/v1"
    assert (peering["metadata"]["name"], peering["metadata"]["namespace"]) == (
        "parley-operator",
        "parley",
    )
    assert not charts.of_kind(manifests, "ClusterKopfPeering")
    (role,) = charts.of_kind(manifests, "Role")
    assert rules_by_resource(role)["kopf.dev/kopfpeerings"] == {"get", "list", "watch", "patch"}
    (cluster_role,) = charts.of_kind(manifests, "ClusterRole")
    assert not {key for key in rules_by_resource(cluster_role) if key.startswith("kopf.dev/")}


def test_replicas_watching_named_namespaces_peer_in_each_of_them() -> None:
    (case,) = (c for c in OPERATOR if c.id.endswith("/04-replicas"))
    manifests = charts.template(case)
    peerings = {p["metadata"]["namespace"] for p in charts.of_kind(manifests, "KopfPeering")}
    roles = {
        role["metadata"]["namespace"]
        for role in charts.of_kind(manifests, "Role")
        if "kopf.dev/kopfpeerings" in rules_by_resource(role)
    }
    assert peerings == roles == {"tenants-eu", "tenants-us"}


def test_cluster_wide_replicas_peer_through_one_clusterkopfpeering() -> None:
    (case,) = (c for c in OPERATOR if "cluster-wide-replicas" in c.id)
    manifests = charts.template(case)
    assert "--peering=parley" in args_of(manifests)
    assert "--all-namespaces" in args_of(manifests)
    (peering,) = charts.of_kind(manifests, "ClusterKopfPeering")
    assert peering["metadata"]["name"] == "parley"
    assert "namespace" not in peering["metadata"]
    assert not charts.of_kind(manifests, "KopfPeering")
    cluster_roles = {
        role["metadata"]["name"]: role for role in charts.of_kind(manifests, "ClusterRole")
    }
    assert rules_by_resource(cluster_roles["parley-operator"])["kopf.dev/clusterkopfpeerings"] == {
        "get",
        "list",
        "watch",
        "patch",
    }
    assert "kopf.dev/clusterkopfpeerings" not in rules_by_resource(
        cluster_roles["parley-operator-discovery"]
    )


@pytest.mark.parametrize("case", OPERATOR, ids=by_id)
def test_each_peering_object_is_valid_against_its_crd_from_parley_crds(case: charts.Case) -> None:
    crds = {
        crd["spec"]["names"]["kind"]: crd
        for crd in charts.template("parley-crds", "--set", "kopfPeering.enabled=true")
    }
    for kind in ("KopfPeering", "ClusterKopfPeering"):
        (version,) = crds[kind]["spec"]["versions"]
        validator = jsonschema.Draft7Validator(version["schema"]["openAPIV3Schema"])
        for peering in charts.of_kind(charts.template(case), kind):
            assert peering["apiVersion"] == f"{crds[kind]['spec']['group']}/{version['name']}"
            assert [error.message for error in validator.iter_errors(peering)] == []
            assert ("namespace" in peering["metadata"]) == (
                crds[kind]["spec"]["scope"] == "Namespaced"
            )


def test_the_peering_crds_come_from_parley_crds_when_asked_for() -> None:
    assert not [
        crd
        for crd in charts.template("parley-crds")
        if crd["metadata"]["name"].endswith(".kopf.dev")
    ]
    crds = {
        crd["metadata"]["name"]: crd
        for crd in charts.template("parley-crds", "--set", "kopfPeering.enabled=true")
    }
    assert crds["kopfpeerings.kopf.dev"]["spec"]["scope"] == "Namespaced"
    assert crds["clusterkopfpeerings.kopf.dev"]["spec"]["scope"] == "Cluster"
    for name in ("kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        assert crds[name]["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def test_the_operator_logs_json_and_serves_metrics_that_only_prometheus_may_reach() -> None:
    manifests = charts.template("parley-operator")
    assert "--log-format=json" in args_of(manifests)
    operator = charts.named(manifests, "Deployment", "parley-operator")
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert charts.env(container)["PARLEY_METRICS_PORT"] == str(ports["metrics"]) == "9090"
    service = charts.named(manifests, "Service", "parley-operator-metrics")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    (policy,) = charts.of_kind(manifests, "NetworkPolicy")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    assert rule["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
    }
    assert not charts.of_kind(manifests, "ServiceMonitor")
    assert not charts.of_kind(manifests, "PrometheusRule")


def test_without_metrics_the_pod_accepts_no_connection_and_serves_none() -> None:
    manifests = charts.template("parley-operator", "--set", "metrics.enabled=false")
    (policy,) = charts.of_kind(manifests, "NetworkPolicy")
    assert policy["spec"]["ingress"] == []
    assert not charts.of_kind(manifests, "Service")
    operator = charts.named(manifests, "Deployment", "parley-operator")
    (container,) = operator["spec"]["template"]["spec"]["containers"]
    assert charts.env(container)["PARLEY_METRICS_PORT"] == "0"


def test_the_service_monitor_scrapes_the_metrics_service() -> None:
    (case,) = (c for c in OPERATOR if c.id.endswith("/04-replicas"))
    manifests = charts.template(case)
    (monitor,) = charts.of_kind(manifests, "ServiceMonitor")
    service = charts.named(manifests, "Service", "parley-operator-metrics")
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [case.namespace]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
