"""What the parley chart renders for traffic: the Ingress's path split by docs/api.md and
the NetworkPolicies."""

from __future__ import annotations

import subprocess

import pytest

from support import charts
from support.parley_chart import PARLEY, SERVICES, by_id, default

# Ingress ----------------------------------------------------------------------------------


# Every path of docs/api.md with the service that must answer it (None: never routed).
# Written out rather than parsed from the reference: the contract's paths are fixed.
API_PATHS: dict[str, str | None] = {
    "/v1/auth/register": "auth",
    "/v1/auth/login": "auth",
    "/v1/auth/refresh": "auth",
    "/v1/auth/logout": "auth",
    "/v1/auth/me": "auth",
    "/v1/auth/password": "auth",
    "/v1/users": "auth",
    "/.well-known/jwks.json": "auth",
    "/v1/chats": "chat",
    "/v1/chats/{chat_id}": "chat",
    "/v1/chats/{chat_id}/members": "chat",
    "/v1/chats/{chat_id}/members/{username}": "chat",
    "/v1/chats/{chat_id}/messages": "chat",
    "/v1/chats/{chat_id}/messages/{seq}": "chat",
    "/v1/chats/{chat_id}/read": "chat",
    "/v1/search": "chat",
    "/v1/stream": "chat",
    "/v1/presence": "chat",
    "/v1/tenant/users/{username}": "auth",
    "/v1/tenant/users/{username}/tokens": "auth",
    "/v1/tenant/events": "chat",
    "/v1/tenant/webhooks": "chat",
    "/v1/tenant/webhooks/{name}": "chat",
    "/v1/openapi.json": "chat",
    "/v1/docs": "chat",
    "/internal/v1/tenants/{slug}": None,
    "/internal/openapi.json": None,
    "/internal/v1/tenants/{slug}/users/{username}": None,
}


def route(ingress: charts.Manifest, path: str) -> str | None:
    """The backend Service of a request path: an Exact match, else Kubernetes' Prefix
    match, longest first."""
    best: tuple[int, str] | None = None
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            assert entry["pathType"] in ("Prefix", "Exact")
            if entry["pathType"] == "Exact":
                if entry["path"] == path:
                    return str(entry["backend"]["service"]["name"])
                continue
            prefix = entry["path"].rstrip("/").split("/")
            if path.split("/")[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
                best = (len(prefix), entry["backend"]["service"]["name"])
    return best[1] if best else None


# 05-httproute turns the Ingress off; test_parley_httproute.py checks its route's split.
@pytest.mark.parametrize(
    "case",
    [c for c in PARLEY if "existing-secrets" not in c.id and "httproute" not in c.id],
    ids=by_id,
)
def test_ingress_routes_each_public_path_to_its_service_and_never_internal(
    case: charts.Case,
) -> None:
    manifests = charts.template(case)
    # 02-ha adds the gRPC Ingress (test_parley_grpc.py); this is the REST one.
    ingress = charts.named(manifests, "Ingress", "parley")
    # With the web client on, it takes every path the API does not: never a service's.
    deployments = {d["metadata"]["name"] for d in charts.of_kind(manifests, "Deployment")}
    web = "parley-web" if "parley-web" in deployments else None
    for path, service in API_PATHS.items():
        expected = f"parley-{service}" if service else web
        assert route(ingress, path.replace("{", "x").replace("}", "x")) == expected, path
    for path in (
        *("/internal", "/healthz", "/readyz", "/metrics", "/", "/v1", "/v1/authx"),
        *("/v1/openapi.jsonx", "/v1/docs/x", "/v1/docsx"),
    ):
        assert route(ingress, path) == web, path
    services_by_name = {s["metadata"]["name"]: s for s in charts.of_kind(manifests, "Service")}
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            backend = entry["backend"]["service"]
            ports = {p["name"] for p in services_by_name[backend["name"]]["spec"]["ports"]}
            assert backend["port"]["name"] in ports


def test_ingress_keeps_idle_websockets_open_on_ingress_nginx() -> None:
    (ingress,) = charts.of_kind(default(), "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    annotations = ingress["metadata"]["annotations"]
    for name in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{name}"]) >= 3600


def test_ingress_annotations_of_other_classes_are_not_nginx_ones() -> None:
    (ingress,) = charts.of_kind(
        charts.template("parley", "--set", "ingress.className=traefik"), "Ingress"
    )
    assert not ingress["metadata"].get("annotations")


# NetworkPolicies --------------------------------------------------------------------------


def _peers(policy: charts.Manifest) -> list[charts.Manifest]:
    return [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]


def test_network_policies_admit_only_the_ingress_controller_operator_prometheus_and_chat() -> None:
    (case,) = (c for c in PARLEY if "networkpolicy" in c.id)
    manifests = charts.template(case)
    auth = charts.named(manifests, "NetworkPolicy", "parley-auth")
    chat = charts.named(manifests, "NetworkPolicy", "parley-chat")
    for policy in (auth, chat):
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        for rule in policy["spec"]["ingress"]:
            # Never an empty `from` (everyone) or an empty peer (every pod).
            assert rule["from"]
            assert all(peer for peer in rule["from"])
        peers = _peers(policy)
        labels = [peer.get("podSelector", {}).get("matchLabels") for peer in peers]
        assert {"app.kubernetes.io/name": "ingress-nginx"} in labels
        assert {"app.kubernetes.io/name": "parley-operator"} in labels
        assert {"app.kubernetes.io/name": "prometheus"} in labels
    chat_pods = charts.named(manifests, "Deployment", "parley-chat")["spec"]["selector"]
    assert {"podSelector": chat_pods} in _peers(auth)
    assert {"podSelector": chat_pods} not in _peers(chat)
    # The operator chart's pods carry the label the policies admit.
    operator = charts.named(charts.template("parley-operator"), "Deployment", "parley-operator")
    assert operator["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == (
        "parley-operator"
    )


def test_network_policies_are_on_by_default_and_admit_only_the_known_callers() -> None:
    manifests = default()
    for component in SERVICES:
        policy = charts.named(manifests, "NetworkPolicy", f"parley-{component}")
        (rule,) = policy["spec"]["ingress"]
        assert rule["ports"] == [
            {"port": "http", "protocol": "TCP"},
            {"port": "grpc", "protocol": "TCP"},
        ]
        names = [peer["podSelector"].get("matchLabels", {}) for peer in rule["from"]]
        expected = [
            {"app.kubernetes.io/name": "ingress-nginx"},
            {"app.kubernetes.io/name": "parley-operator"},
            {"app.kubernetes.io/name": "prometheus"},
        ]
        assert [name for name in names if "app.kubernetes.io/component" not in name] == expected
        pods = charts.named(manifests, "Deployment", f"parley-{component}")["spec"]["selector"]
        assert policy["spec"]["podSelector"] == pods
    assert charts.named(manifests, "NetworkPolicy", "parley-migrate")["spec"]["ingress"] == []


def test_by_default_no_proxy_is_trusted_to_name_the_client_address() -> None:
    for component in SERVICES:
        deployment = charts.named(default(), "Deployment", f"parley-{component}")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert charts.env(container)["PARLEY_FORWARDED_ALLOW_IPS"] == ""


def test_a_wildcard_proxy_trust_is_refused_by_the_schema() -> None:
    # uvicorn would take the leftmost X-Forwarded-For entry, which the client writes.
    helm = charts.require(charts.HELM, "helm")
    for value in ("*", "10.0.0.0/8\\,*"):  # --set splits on unescaped commas
        result = subprocess.run(
            [
                helm,
                "template",
                "parley",
                charts.CHARTS / "parley",
                "--set-string",
                f"config.forwardedAllowIps={value}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode != 0, value
        assert "forwardedAllowIps" in result.stderr, value
