"""Several replicas: the real operator run with `--peering` (as the chart runs it when
`replicaCount` is above 1) reconciles Tenants and keeps its record in the namespace's
KopfPeering, under the random priority `parley-operator` drew for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import kmock
import pytest
from kopf.testing import KopfRunner

from parley_operator import cli, main
from support import kubernetes
from support.harness import MakeSettings
from support.kubernetes import Cluster, Kubectl, eventually

PEERINGS = "kopf.dev/v1/kopfpeerings"


@attrs.define(kw_only=True)
class PeeringEmulator(kubernetes.Emulator):
    """The tests' emulator, serving kopf's namespaced peering resource as well."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.resources[PEERINGS] = kmock.ResourceInfo(
            kind="KopfPeering", namespaced=True, verbs=kubernetes.VERBS
        )


def test_a_peered_operator_reconciles_and_records_its_drawn_priority_in_the_kopfpeering(
    make_settings: MakeSettings,
    namespace: str,
    slug: Callable[[], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kubernetes, "Emulator", PeeringEmulator)
    name = slug()
    with Cluster() as cluster:
        kubectl = Kubectl(cluster.url)
        try:
            monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig(tmp_path / "kubeconfig")))
            kubectl.namespace(namespace)
            # What the chart's templates/peering.yaml creates in each watched namespace.
            kubectl.create(
                f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings",
                {
                    "apiVersion": "kopf.dev/v1",
                    "kind": "KopfPeering",
                    "metadata": {"name": "parley-operator", "namespace": namespace},
                },
            )
            arguments = cli.kopf_arguments(
                ["run", "--peering=parley-operator", "--verbose", f"--namespace={namespace}"]
            )
            registry = main.build_registry(make_settings())
            with KopfRunner(arguments, registry=registry, timeout=60) as runner:
                kubectl.tenant(namespace, name, {})

                def ready() -> None:
                    found = kubectl.get(kubectl.tenants(namespace, name)) or {}
                    conditions = (found.get("status") or {}).get("conditions") or []
                    assert any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

                eventually(ready, what=f"{name} Ready under peering")
                peers = eventually(
                    lambda: _peers(kubectl, namespace), what="the operator in the KopfPeering"
                )
            assert runner.exit_code == 0, runner.output
        finally:
            kubectl.close()
    (peer,) = peers.values()
    drawn = int(arguments[-1].removeprefix("--priority="))
    assert peer["priority"] == drawn
    assert "--standalone" not in arguments


def _peers(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    peering = kubectl.get(f"/apis/kopf.dev/v1/namespaces/{namespace}/kopfpeerings/parley-operator")
    assert peering is not None
    status: dict[str, Any] = peering.get("status") or {}
    assert status, peering
    return status
