"""checkov finds nothing wrong with what the charts render (every ci/ values file of every
chart) nor with the Dockerfile, except checks a chart skips on purpose: with a
`checkov.io/skipN: CHECK=reason` annotation whose reason is written out, and only for
checks listed below, so a new skip is a reviewed change to this file."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from support import charts

# Every check a chart may skip, and why that is acceptable; the reasons in the charts'
# annotations say the same to whoever reads the rendered objects.
ALLOWED_SKIPS = {
    "CKV_K8S_43": "images are pinned by release tag unless image.digest is set",
    "CKV_K8S_15": "IfNotPresent suits immutable tags and kind-loaded images",
    "CKV_K8S_35": "Parley reads its secrets from PARLEY_* environment variables only",
    "CKV_K8S_38": "the operator is a Kubernetes API client and needs its token",
}
DOCKERFILE = "Dockerfile"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    checkov = charts.require(charts.CHECKOV, "checkov")
    scanned = tmp_path_factory.mktemp("checkov")
    for case in charts.cases():
        manifests = charts.template(case)
        (scanned / f"{case.namespace}.yaml").write_text(yaml.safe_dump_all(manifests))
    (scanned / "docker").mkdir()
    shutil.copy(charts.REPO / DOCKERFILE, scanned / "docker" / "Dockerfile")
    result = subprocess.run(
        [
            checkov,
            "--directory",
            scanned,
            "--framework",
            "kubernetes",
            "dockerfile",
            "--compact",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):  # 1 means failed checks, reported below
        pytest.fail(f"checkov exited {result.returncode}:\n{result.stderr}", pytrace=False)
    reports = json.loads(result.stdout)
    return {report["check_type"]: report for report in reports}


def test_checkov_scans_the_rendered_manifests_and_the_dockerfile(report: dict[str, Any]) -> None:
    assert set(report) == {"kubernetes", "dockerfile"}
    assert report["kubernetes"]["summary"]["resource_count"] > 50
    assert report["dockerfile"]["summary"]["resource_count"] >= 1
    for framework in report.values():
        assert framework["summary"]["parsing_errors"] == 0


def test_checkov_fails_no_check(report: dict[str, Any]) -> None:
    failed = [
        f"{check['check_id']} {check['check_name']}: {check['file_path']} {check['resource']}"
        for framework in report.values()
        for check in framework["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_skipped_check_is_allowed_and_gives_its_reason(report: dict[str, Any]) -> None:
    for framework in report.values():
        for check in framework["results"]["skipped_checks"]:
            assert check["check_id"] in ALLOWED_SKIPS, check
            assert len(check["check_result"].get("suppress_comment", "")) > 40, check
