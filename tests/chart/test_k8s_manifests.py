"""k8s/ holds plain manifests rendered from the charts by `make k8s`; they must not drift
from the charts. k8s/dev/dependencies.yaml (hand-written throwaway PostgreSQL and Redis)
must be valid and meet the same restricted Pod Security Standard as Parley."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import validate

from support import charts

K8S = charts.REPO / "k8s"
RENDER = charts.REPO / "tests" / "chart" / "render_k8s.py"


def test_k8s_matches_what_make_k8s_renders_from_the_charts(tmp_path: Path) -> None:
    helm = charts.require(charts.HELM, "helm")
    charts.run(sys.executable, RENDER, helm, tmp_path)
    fresh = sorted(path.name for path in tmp_path.glob("*.yaml"))
    committed = sorted(path.name for path in K8S.glob("*.yaml"))
    assert committed == fresh, "k8s/ is out of date with the charts: run `make k8s`"
    for name in fresh:
        diff = list(
            difflib.unified_diff(
                (K8S / name).read_text().splitlines(),
                (tmp_path / name).read_text().splitlines(),
                f"k8s/{name}",
                "rendered",
                lineterm="",
            )
        )
        assert not diff, f"k8s/{name} is out of date: run `make k8s`\n" + "\n".join(diff[:40])


def test_the_plain_manifests_hold_no_secret_and_no_random_value() -> None:
    for path in K8S.glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert doc["kind"] != "Secret", f"{path.name}: {doc['metadata']['name']}"


def test_the_plain_manifests_split_migrations_from_the_services() -> None:
    migrations = [d for d in yaml.safe_load_all((K8S / "parley-migrations.yaml").read_text()) if d]
    services = [d for d in yaml.safe_load_all((K8S / "parley.yaml").read_text()) if d]
    assert {doc["kind"] for doc in migrations} == {"Job"}
    assert "Job" not in {doc["kind"] for doc in services}
    assert {"Deployment", "Service", "Ingress"} <= {doc["kind"] for doc in services}


@pytest.mark.parametrize("kube_version", charts.KUBE_VERSIONS)
def test_dev_dependencies_are_valid_and_restricted(kube_version: str) -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "dev" / "dependencies.yaml").read_text()) if d]
    for doc in docs:
        validate(doc, kube_version, strict=True)
    workloads = list(charts.pod_specs(docs))
    assert {w["metadata"]["name"] for w, _ in workloads} == {"parley-postgresql", "parley-redis"}
    for workload, pod in workloads:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in charts.containers(pod):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, workload["metadata"]["name"]
            assert context["capabilities"]["drop"] == ["ALL"], workload["metadata"]["name"]
    # The parley chart's default URLs point at these Services.
    values = yaml.safe_load((charts.CHARTS / "parley" / "values.yaml").read_text())
    names = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Service"}
    assert "@parley-postgresql:5432/" in values["externalDatabase"]["url"]
    assert values["externalRedis"]["url"].startswith("redis://parley-redis:6379/")
    assert names == {"parley-postgresql", "parley-redis"}
