"""Each chart documents every value with a `# --` comment (helm-docs style) and rejects any
value it does not know: values.schema.json closes every object it describes
(`additionalProperties: false`). Objects passed through to Kubernetes as they are
(resources, affinity, security contexts) are typed as open objects in the schema, and their
inner keys need no comment of their own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from support import charts

OWN_CHARTS = ["parley", "parley-operator"]
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-/]+):")


def schema_of(chart: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((charts.CHARTS / chart / "values.schema.json").read_text())
    return schema


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node


def documented_keys(path: Path, schema: dict[str, Any]) -> list[str]:
    """Keys of values.yaml missing their `# --` comment; inner keys of open objects excepted."""
    missing = []
    # (indent, schema node of the object whose keys are at that indent)
    stack: list[tuple[int, dict[str, Any] | None]] = [(0, schema)]
    previous_comment: list[str] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            previous_comment.append(stripped)
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("- "):
            if not stripped:
                previous_comment = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] > indent:
            stack.pop()
        parent = stack[-1][1] if stack and stack[-1][0] == indent else None
        node = None
        if parent is not None and "properties" in parent:
            node = resolve(schema, parent["properties"].get(match["key"], {}))
            if not any(comment.startswith("# --") for comment in previous_comment):
                missing.append(f"{path.name}:{match['key']} (indent {indent})")
        stack.append((indent + 2, node))
        previous_comment = []
    return missing


@pytest.mark.parametrize("chart", OWN_CHARTS)
def test_every_value_is_documented_with_a_helm_docs_comment(chart: str) -> None:
    assert documented_keys(charts.CHARTS / chart / "values.yaml", schema_of(chart)) == []


def _objects(node: Any, where: str = "#") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        if "properties" in node:
            found.append((where, node))
        for key, value in node.items():
            found.extend(_objects(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_objects(value, f"{where}/{index}"))
    return found


@pytest.mark.parametrize("chart", OWN_CHARTS)
def test_the_schema_closes_every_object_it_describes(chart: str) -> None:
    objects = _objects(schema_of(chart))
    assert len(objects) > 5
    for where, node in objects:
        if where == "#/properties/global":
            # A parent chart sets global keys of its own and of its other subcharts.
            assert "additionalProperties" not in node, where
            continue
        assert node.get("additionalProperties") is False, where


@pytest.mark.parametrize("chart", OWN_CHARTS)
def test_the_schema_describes_every_default_value(chart: str) -> None:
    import yaml

    schema = schema_of(chart)

    def walk(values: dict[str, Any], node: dict[str, Any], where: str) -> None:
        node = resolve(schema, node)
        if "properties" not in node:
            return
        assert set(values) <= set(node["properties"]), where
        for key, value in values.items():
            if isinstance(value, dict):
                walk(value, node["properties"][key], f"{where}.{key}")

    walk(yaml.safe_load((charts.CHARTS / chart / "values.yaml").read_text()), schema, chart)


@pytest.mark.parametrize("chart", OWN_CHARTS)
def test_the_install_matrix_has_numbered_ci_values_files(chart: str) -> None:
    names = sorted(path.name for path in (charts.CHARTS / chart / "ci").iterdir())
    assert names[0] == "01-default-values.yaml"
    assert all(re.fullmatch(r"\d\d-[a-z0-9-]+-values\.yaml", name) for name in names), names
    if chart == "parley":
        assert [name[3:] for name in names] == [
            "default-values.yaml",
            "ha-values.yaml",
            "networkpolicy-values.yaml",
            "existing-secrets-values.yaml",
            "httproute-values.yaml",
            "web-values.yaml",
            "canary-values.yaml",
        ]
