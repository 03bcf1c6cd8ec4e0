"""Every chart passes `helm lint --strict`, and every ci/ values file renders objects that
Kubernetes 1.33 and 1.35 accept (kubernetes-validate --strict: no unknown field)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from kubernetes_validate import SchemaNotFoundError, ValidationError, validate

from support import charts

# Prometheus Operator and kopf peering kinds have no schema in kubernetes-validate; their
# shape is checked by the chart invariants instead (the peering objects against their CRDs
# in test_operator_chart.py). A kind that is not listed here must validate.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("kopf.dev/v1", "KopfPeering"),
    ("kopf.dev/v1", "ClusterKopfPeering"),
}
# Nor does it ship the Gateway API's: HTTPRoute and GRPCRoute are checked against minimal
# schemas written from the Gateway API v1 reference (their $comment says what they cover).
GATEWAY_SCHEMAS = {
    ("gateway.networking.k8s.io/v1", kind): json.loads(
        (Path(__file__).parent / "schemas" / f"{kind.lower()}-v1.json").read_text()
    )
    for kind in ("HTTPRoute", "GRPCRoute")
}


@pytest.mark.parametrize("case", charts.cases(), ids=lambda case: case.id)
def test_chart_passes_helm_lint_strict_with_each_ci_values_file(case: charts.Case) -> None:
    helm = charts.require(charts.HELM, "helm")
    arguments = ["--values", str(case.values)] if case.values else []
    output = charts.run(helm, "lint", "--strict", charts.CHARTS / case.chart, *arguments)
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize("kube_version", charts.KUBE_VERSIONS)
@pytest.mark.parametrize("case", charts.cases(), ids=lambda case: case.id)
def test_each_ci_values_file_renders_objects_kubernetes_accepts(
    case: charts.Case, kube_version: str
) -> None:
    manifests = charts.template(case, "--kube-version", kube_version)
    assert manifests, "the chart rendered nothing"
    problems = []
    for doc in manifests:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        if (doc["apiVersion"], doc["kind"]) in CUSTOM_KINDS:
            continue
        if (schema := GATEWAY_SCHEMAS.get((doc["apiVersion"], doc["kind"]))) is not None:
            for error in jsonschema.Draft202012Validator(schema).iter_errors(doc):
                problems.append(f"{where}: {error.message} at {list(error.path)}")
            continue
        try:
            validate(doc, kube_version, strict=True)
        except SchemaNotFoundError:
            problems.append(f"{where}: no schema for {doc['apiVersion']} in {kube_version}")
        except ValidationError as error:
            problems.append(f"{where}: {error.message} at {list(error.path)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("chart", charts.chart_names())
def test_chart_defaults_render_a_complete_install(chart: str) -> None:
    manifests = charts.template(chart)
    assert manifests
    # A plain `kubectl apply` of the output must work too: every object is well-formed YAML
    # with a name, and namespaced ones say where they go.
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace"}
    for doc in manifests:
        assert doc["metadata"]["name"]
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"].get("namespace") == "parley", doc["metadata"]["name"]
    yaml.safe_dump_all(manifests)
