"""The gRPC API in the parley chart: each service's gRPC port on its pods and Service, the
kubelet's gRPC health probe, a second Ingress for ingress-nginx with the GRPC backend
protocol, a Gateway API GRPCRoute that validates against the v1 schema, NetworkPolicies
that admit the port, and `grpc.enabled=false` taking all of it away."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from support import charts

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "grpcroute-v1.json").read_text())
SERVICES = {
    "parley.auth.v1.AuthService": "parley-auth",
    "parley.auth.v1.TenantUserService": "parley-auth",
    "parley.chat.v1.ChatService": "parley-chat",
    "parley.chat.v1.TenantEventService": "parley-chat",
}
ROUTE = ("--set", "grpc.route.enabled=true", "--set", "grpc.route.parentRefs[0].name=public")
INGRESS = ("--set", "grpc.ingress.enabled=true")


def component(manifests: list[charts.Manifest], kind: str, name: str) -> charts.Manifest:
    return charts.named(manifests, kind, name)


@pytest.mark.parametrize("name", ["parley-auth", "parley-chat"])
def test_each_service_serves_grpc_on_its_own_port_and_probes_liveness_through_it(
    name: str,
) -> None:
    manifests = charts.template("parley", "--set", "grpc.port=9090")
    deployment = component(manifests, "Deployment", name)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "grpc", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
    assert charts.env(container)["PARLEY_GRPC_PORT"] == "9090"
    assert container["livenessProbe"]["grpc"] == {"port": 9090}
    assert "httpGet" not in container["livenessProbe"]
    # Readiness still asks /readyz, which checks the database and the broker.
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    service = component(manifests, "Service", name)
    (grpc,) = (p for p in service["spec"]["ports"] if p["name"] == "grpc")
    assert grpc == {
        "name": "grpc",
        "port": 9090,
        "targetPort": "grpc",
        "protocol": "TCP",
        "appProtocol": "kubernetes.io/h2c",
    }


def test_liveness_can_stay_on_healthz() -> None:
    manifests = charts.template("parley", "--set", "grpc.livenessProbe=false")
    (container,) = component(manifests, "Deployment", "parley-chat")["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "grpc" not in container["livenessProbe"]


def test_grpc_disabled_leaves_no_port_variable_route_or_probe() -> None:
    manifests = charts.template("parley", "--set", "grpc.enabled=false", *ROUTE, *INGRESS)
    for name in SERVICES.values():
        (container,) = component(manifests, "Deployment", name)["spec"]["template"]["spec"][
            "containers"
        ]
        assert [p["name"] for p in container["ports"]] == ["http"]
        assert "PARLEY_GRPC_PORT" not in charts.env(container)
        assert "httpGet" in container["livenessProbe"]
        service = component(manifests, "Service", name)
        assert [p["name"] for p in service["spec"]["ports"]] == ["http"]
    assert not charts.of_kind(manifests, "GRPCRoute")
    assert [i["metadata"]["name"] for i in charts.of_kind(manifests, "Ingress")] == ["parley"]


def test_the_grpc_ingress_sends_each_service_to_its_pods_with_the_grpc_backend_protocol() -> None:
    manifests = charts.template("parley", *INGRESS, "--set", "grpc.ingress.host=grpc.example.com")
    ingress = component(manifests, "Ingress", "parley-grpc")
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/backend-protocol"] == "GRPC"
    # A quiet Subscribe stream outlives nginx's 60 s default.
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "grpc.example.com"
    routed = {
        p["path"]: (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"])
        for p in rule["http"]["paths"]
    }
    for service, name in SERVICES.items():
        assert routed[f"/{service}"] == (name, "grpc")
    assert routed["/grpc.health.v1.Health"] == ("parley-chat", "grpc")
    assert all(p["pathType"] == "Prefix" for p in rule["http"]["paths"])
    # The REST Ingress keeps its own annotations: no GRPC backend protocol there.
    rest = component(manifests, "Ingress", "parley")
    assert "nginx.ingress.kubernetes.io/backend-protocol" not in rest["metadata"]["annotations"]


def test_the_grpc_ingress_carries_no_nginx_annotations_for_another_class() -> None:
    manifests = charts.template("parley", *INGRESS, "--set", "grpc.ingress.className=traefik")
    ingress = component(manifests, "Ingress", "parley-grpc")
    assert "annotations" not in ingress["metadata"]


def test_the_grpc_route_sends_each_service_to_its_pods_and_validates() -> None:
    manifests = charts.template(
        "parley", *ROUTE, "--set", "grpc.route.hostnames[0]=grpc.example.com"
    )
    (route,) = charts.of_kind(manifests, "GRPCRoute")
    jsonschema.Draft202012Validator(SCHEMA).validate(route)
    routed = {
        match["method"]["service"]: (rule["backendRefs"][0]["name"], rule["backendRefs"][0]["port"])
        for rule in route["spec"]["rules"]
        for match in rule["matches"]
    }
    for service, name in SERVICES.items():
        assert routed[service] == (name, 50051)
    assert route["spec"]["parentRefs"] == [{"name": "public"}]


def test_the_grpc_route_schema_catches_mistakes() -> None:
    (route,) = charts.of_kind(charts.template("parley", *ROUTE), "GRPCRoute")
    broken = json.loads(json.dumps(route))
    broken["spec"]["rules"][0]["matches"][0]["method"] = {"service": "parley/auth"}
    broken["spec"]["rules"][1]["backendRefs"][0].pop("port")
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(broken))
    assert len(errors) == 2


def test_a_grpc_route_without_a_gateway_fails_the_render() -> None:
    assert "grpc.route.parentRefs" in charts.render_error(
        "parley", "--set", "grpc.route.enabled=true"
    )


def test_network_policies_admit_the_grpc_port_from_the_same_peers_as_http() -> None:
    manifests = charts.template("parley", "--set", "networkPolicy.enabled=true")
    for name in SERVICES.values():
        policy = component(manifests, "NetworkPolicy", name)
        (rule, *_) = policy["spec"]["ingress"]
        assert {"port": "grpc", "protocol": "TCP"} in rule["ports"]
        assert {"port": "http", "protocol": "TCP"} in rule["ports"]


def test_the_grpc_port_may_not_be_the_http_port() -> None:
    assert "grpc" in charts.render_error("parley", "--set", "grpc.port=8000")
