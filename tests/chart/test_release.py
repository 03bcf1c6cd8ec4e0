"""Parley is installable from a registry: the release workflow publishes the images and the
charts (OCI) with the images pinned by digest, the charts carry Artifact Hub metadata, the
repository has a license, changelog and security policy, the docs install from the registry
with a version, and `helm test` checks each service's /readyz through its Service."""

from __future__ import annotations

import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from support import charts

WORKFLOW = charts.REPO / ".github" / "workflows" / "release.yml"


def release() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def run_text(job: str) -> str:
    return "\n".join(step.get("run", "") for step in release()["jobs"][job]["steps"])


def test_the_repository_has_a_license_changelog_and_security_policy() -> None:
    license_text = (charts.REPO / "LICENSE").read_text()
    assert "Apache License" in license_text
    assert "Version 2.0, January 2004" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert "## [Unreleased]" in (charts.REPO / "CHANGELOG.md").read_text()
    security = (charts.REPO / "SECURITY.md").read_text()
    assert "docs/security.md" in security
    assert "Report a vulnerability" in security
    assert "public issue" in security


@pytest.mark.parametrize("chart", charts.chart_names())
def test_every_chart_carries_artifact_hub_metadata(chart: str) -> None:
    meta = yaml.safe_load((charts.CHARTS / chart / "Chart.yaml").read_text())
    assert meta["home"].startswith("https://")
    assert meta["sources"]
    assert meta["icon"].endswith("charts/icon.svg")
    assert (charts.CHARTS / "icon.svg").is_file()
    assert meta["maintainers"][0]["name"]
    assert meta["kubeVersion"].startswith(">=")
    annotations = meta["annotations"]
    assert annotations["artifacthub.io/license"] == "Apache-2.0"
    assert yaml.safe_load(annotations["artifacthub.io/links"])
    assert yaml.safe_load(annotations["artifacthub.io/changes"])
    if chart != "parley-crds":
        images = yaml.safe_load(annotations["artifacthub.io/images"])
        assert all(image["image"].startswith("ghcr.io/") for image in images)


def test_the_release_workflow_runs_on_version_tags_and_builds_every_image() -> None:
    workflow = release()
    # YAML 1.1 reads the key `on` as True.
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # type: ignore[index]
    images = workflow["jobs"]["images"]
    built = {entry["image"]: entry["target"] for entry in images["strategy"]["matrix"]["include"]}
    assert built == {member: target for member, (_, target) in charts.IMAGES.items()}
    (build,) = (s for s in images["steps"] if "docker/build-push" in s.get("uses", ""))
    assert build["with"]["file"] == "Dockerfile"
    assert build["with"]["build-args"] == "PACKAGE=${{ matrix.image }}"
    assert build["with"]["push"] is True
    assert "${{ steps.build.outputs.digest }}" in str(images["steps"])
    # The images workflow leaves version tags to this one.
    images_workflow = yaml.safe_load((WORKFLOW.parent / "images.yml").read_text())
    assert "tags" not in images_workflow[True]["push"]


def test_the_release_pins_each_image_by_digest_into_a_value_the_chart_has() -> None:
    pins = re.findall(r"^\s*pin (\S+) (\S+) (\S+)$", run_text("charts"), flags=re.MULTILINE)
    assert {image for _, _, image in pins} == set(charts.IMAGES)
    for values_file, path, _ in pins:
        node: Any = yaml.safe_load((charts.REPO / values_file).read_text())
        for key in path.strip(".").split("."):
            node = node[key]
        assert node["digest"] == "", (values_file, path)
        assert "repository" in node
    # A digest replaces the tag in every image the chart renders, helm test Pods included.
    digest = "sha256:" + "a" * 64
    manifests = charts.template(
        "parley", "--set", f"auth.image.digest={digest}", "--set", f"chat.image.digest={digest}"
    )
    for _, pod in charts.pod_specs(manifests):
        for container in charts.containers(pod):
            assert container["image"].endswith(f"@{digest}"), container["name"]


def test_the_release_packages_and_pushes_every_chart_to_the_owners_registry() -> None:
    job = release()["jobs"]["charts"]
    assert job["needs"] == "images"
    run = run_text("charts")
    assert 'helm package "$chart" --version "$version" --app-version "$version"' in run
    assert 'helm push "$package" "oci://ghcr.io/${OWNER}/charts"' in run
    assert "${{ github.repository_owner }}" in str(job["steps"])
    for chart in charts.chart_names():
        assert f"charts/{chart}" in run


def test_the_install_docs_use_the_registry_with_a_version_and_the_safe_upgrade() -> None:
    for doc in (charts.REPO / "docs" / "deploy.md", charts.CHARTS / "parley" / "README.md"):
        text = doc.read_text()
        assert re.search(r"helm install parley oci://ghcr\.io/OWNER/charts/parley --version", text)
        assert "--reset-then-reuse-values" in text
        assert "OWNER" in text


class Readyz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/readyz" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def readyz() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), Readyz)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_helm_test_pods_call_each_services_readyz_through_its_service(
    readyz: http.server.HTTPServer,
) -> None:
    manifests = charts.template("parley")
    pods = {p["metadata"]["name"]: p for p in charts.of_kind(manifests, "Pod")}
    assert set(pods) == {"parley-auth-test", "parley-chat-test"}
    for component in ("auth", "chat"):
        pod = pods[f"parley-{component}-test"]
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        (container,) = pod["spec"]["containers"]
        service = charts.named(manifests, "Service", f"parley-{component}")
        (port,) = (p for p in service["spec"]["ports"] if p["name"] == "http")
        url = f"http://parley-{component}:{port['port']}/readyz"
        command = container["command"]
        assert command[:2] == ["python", "-c"]
        assert url in command[2]
        # The script itself, against a stand-in for the Service: 200 passes, 503 fails.
        local = command[2].replace(url, f"http://127.0.0.1:{readyz.server_port}/readyz")
        assert subprocess.run([sys.executable, "-c", local], capture_output=True).returncode == 0
        Readyz.status = 503
        try:
            failed = subprocess.run([sys.executable, "-c", local], capture_output=True)
        finally:
            Readyz.status = 200
        assert failed.returncode != 0


def test_the_network_policies_admit_the_helm_test_pods_to_the_services() -> None:
    manifests = charts.template("parley")
    test_labels = charts.of_kind(manifests, "Pod")[0]["metadata"]["labels"]
    for component in ("auth", "chat"):
        policy = charts.named(manifests, "NetworkPolicy", f"parley-{component}")
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
        assert any(
            "namespaceSelector" not in peer
            and peer["podSelector"]["matchLabels"].items() <= test_labels.items()
            for peer in peers
        ), component
