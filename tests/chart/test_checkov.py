"""checkov finds nothing wrong with what the charts render (every ci/ values file of every
chart, the defaults included) nor with the Dockerfile, except checks a chart skips on
purpose: with a `checkov.io/skipN: CHECK=reason` annotation whose reason is written out, and
only for checks listed below, so a new skip is a reviewed change to this file.

checkov's cross-object checks match labels across the namespaces and files of one scan, so
one install's NetworkPolicy would vouch for another install's pods: CKV2_K8S_6 (every pod
has a NetworkPolicy) is therefore also run on each install alone."""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import subprocess
from pathlib import Path
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
    "CKV_K8S_8": "a helm test Pod makes one request and exits: no liveness probe",
    "CKV_K8S_9": "a helm test Pod makes one request and exits: no readiness probe",
}
DOCKERFILE = "Dockerfile"


ALONE = "CKV2_K8S_6"
# checkov is CPU-bound and the machines have two cores.
CONCURRENT_SCANS = 2


def _checkov(checkov: Path, directory: Path, *options: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            checkov,
            "--directory",
            directory,
            "--compact",
            "--skip-download",
            "--output",
            "json",
            *options,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):  # 1 means failed checks, reported below
        pytest.fail(f"checkov exited {result.returncode}:\n{result.stderr}", pytrace=False)
    reports = json.loads(result.stdout)
    # One framework's report is an object, several a list.
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """checkov's report per framework over every install and the Dockerfiles, and its
    CKV2_K8S_6 report for each install that runs pods, scanned alone, by case id."""
    checkov = charts.require(charts.CHECKOV, "checkov")
    scanned = tmp_path_factory.mktemp("checkov")
    alone = {}
    for case in charts.cases():
        manifests = charts.template(case)
        text = yaml.safe_dump_all(manifests)
        (scanned / f"{case.namespace}.yaml").write_text(text)
        if next(charts.pod_specs(manifests), None) is not None:
            alone[case.id] = tmp_path_factory.mktemp("checkov-alone") / f"{case.namespace}.yaml"
            alone[case.id].write_text(text)
    (scanned / "docker").mkdir()
    shutil.copy(charts.REPO / DOCKERFILE, scanned / "docker" / "Dockerfile")
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT_SCANS) as pool:
        everything = pool.submit(
            _checkov, checkov, scanned, "--framework", "kubernetes", "dockerfile"
        )
        each = {
            case: pool.submit(
                _checkov, checkov, path.parent, "--framework", "kubernetes", "--check", ALONE
            )
            for case, path in alone.items()
        }
        report = {found["check_type"]: found for found in everything.result()}
        return report, {case: future.result() for case, future in each.items()}


@pytest.fixture(scope="module")
def report(scans: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return scans[0]


def test_checkov_scans_every_install_and_the_dockerfile(report: dict[str, Any]) -> None:
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


def test_every_pod_of_every_install_has_its_own_network_policy(
    scans: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _, alone = scans
    assert "parley/01-default" in alone
    failed = [
        f"{case}: {check['resource']}"
        for case, reports in alone.items()
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)
    (default,) = alone["parley/01-default"]
    assert default["summary"]["passed"] >= 4  # auth, chat and the two migration Jobs


def test_every_skipped_check_is_allowed_and_gives_its_reason(report: dict[str, Any]) -> None:
    for framework in report.values():
        for check in framework["results"]["skipped_checks"]:
            assert check["check_id"] in ALLOWED_SKIPS, check
            assert len(check["check_result"].get("suppress_comment", "")) > 40, check
