"""skaffold.yaml builds the four images from the one Dockerfile and deploys the charts in
dependency order, setting image values that exist in the charts; the dev profile targets a
local kind cluster. (skaffold itself cannot be installed here: these checks read the file.)"""

from __future__ import annotations

import re
from typing import Any

import yaml

from support import charts

SKAFFOLD = charts.REPO / "skaffold.yaml"


def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SKAFFOLD.read_text())
    return loaded


def test_skaffold_builds_the_four_images_from_the_one_dockerfile() -> None:
    artifacts = config()["build"]["artifacts"]
    assert [a["image"] for a in artifacts] == [
        "parley-auth",
        "parley-chat",
        "parley-operator",
        "parley-web",
    ]
    for artifact in artifacts:
        assert artifact["context"] == "."
        docker = artifact["docker"]
        assert docker["dockerfile"] == "Dockerfile"
        assert (charts.REPO / docker["dockerfile"]).is_file()
        # Each image installs the member it is named after, with that member's target.
        assert docker["buildArgs"] == {"PACKAGE": artifact["image"]}
        assert docker["target"] == charts.IMAGES[artifact["image"]][1]


def test_skaffold_deploys_crds_then_parley_then_the_operator_with_helm() -> None:
    releases = config()["deploy"]["helm"]["releases"]
    assert [r["name"] for r in releases] == ["parley-crds", "parley", "parley-operator"]
    assert {r["namespace"] for r in releases} == {"parley"}
    for release in releases:
        assert release["chartPath"] == f"charts/{release['name']}"


def _has_value(values: dict[str, Any], dotted: str) -> bool:
    node: Any = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_image_value_skaffold_sets_exists_in_its_chart() -> None:
    images = {a["image"].replace("-", "_") for a in config()["build"]["artifacts"]}
    used = set()
    for release in config()["deploy"]["helm"]["releases"]:
        if not (charts.CHARTS / release["name"] / "values.yaml").exists():
            continue
        values = yaml.safe_load((charts.CHARTS / release["name"] / "values.yaml").read_text())
        for key, template in release.get("setValueTemplates", {}).items():
            assert _has_value(values, key), f"{release['name']}: {key}"
            used.update(re.findall(r"IMAGE_\w+?_(parley_\w+)\}\}", template))
    assert used == images


def test_the_dev_profile_loads_images_into_kind_with_the_dev_dependencies() -> None:
    (profile,) = (p for p in config()["profiles"] if p["name"] == "dev")
    assert profile["activation"] == [{"kubeContext": "kind-parley"}]
    assert profile["build"]["local"]["push"] is False
    for manifest in profile["manifests"]["rawYaml"]:
        assert (charts.REPO / manifest).is_file()
    assert profile["deploy"]["helm"]["releases"] == config()["deploy"]["helm"]["releases"]
    kind_config = yaml.safe_load((charts.REPO / "k8s/dev/kind-config.yaml").read_text())
    assert kind_config["kind"] == "Cluster"
