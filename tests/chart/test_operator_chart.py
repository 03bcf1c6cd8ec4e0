"""The parley-operator chart grants the operator exactly what it uses (least privilege),
where it uses it, and points it at the services of the parley chart."""

from __future__ import annotations

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
            assert not {"escalate", "bind", "impersonate", "delete", "deletecollection"} & set(
                rule["verbs"]
            )


def test_by_default_the_operator_reconciles_its_own_namespace_with_a_role() -> None:
    manifests = charts.template("parley-operator")
    (role,) = charts.of_kind(manifests, "Role")
    assert role["metadata"]["namespace"] == "parley"
    rules = rules_by_resource(role)
    assert rules["parley.dev/tenants"] == {"get", "list", "watch", "patch", "update"}
    assert rules["parley.dev/tenants/status"] == {"get", "patch", "update"}
    assert rules["parley.dev/tenants/finalizers"] == {"update"}
    assert rules["/secrets"] == {"get", "create", "patch"}
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
    (case,) = (c for c in OPERATOR if "cluster-wide" in c.id)
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


def test_one_operator_runs_at_a_time() -> None:
    operator = charts.named(charts.template("parley-operator"), "Deployment", "parley-operator")
    assert operator["spec"]["replicas"] == 1
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    assert "--standalone" in operator["spec"]["template"]["spec"]["containers"][0]["args"]
