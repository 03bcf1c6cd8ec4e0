"""The web client in the parley chart (docs/web.md): off by default; with `web.enabled` its
own Deployment (a file server, non-root, read-only root filesystem), Service and
NetworkPolicy, and `/` routed to it by the Ingress and the HTTPRoute, the API's paths staying
the services'."""

from __future__ import annotations

import pytest

from support import charts
from support.parley_chart import default

WEB = ("--set", "web.enabled=true")
GATEWAY = ("--set", "httpRoute.enabled=true", "--set", "httpRoute.parentRefs[0].name=public")


def names(manifests: list[charts.Manifest]) -> set[tuple[str, str]]:
    return {(doc["kind"], doc["metadata"]["name"]) for doc in manifests}


def test_the_web_client_is_off_by_default() -> None:
    assert not [name for _, name in names(default()) if name == "parley-web"]


def test_the_web_client_runs_its_file_server_as_a_restricted_pod() -> None:
    manifests = charts.template("parley", *WEB)
    assert {
        ("Deployment", "parley-web"),
        ("Service", "parley-web"),
        ("NetworkPolicy", "parley-web"),
    } <= names(manifests)
    pod = charts.named(manifests, "Deployment", "parley-web")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["parley-web"]
    assert container["args"] == ["serve"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert container["image"].startswith("ghcr.io/parley-dev/parley-web:")
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert "PARLEY_WEB_API_URL" not in env
    # No database, no Redis, no admin token: the client holds no secret.
    assert not [item for item in container["env"] if "valueFrom" in item]


def test_the_ingress_and_the_route_send_every_other_path_to_the_web_client() -> None:
    manifests = charts.template("parley", *WEB, *GATEWAY)
    (ingress,) = charts.of_kind(manifests, "Ingress")
    paths = {
        entry["path"]: entry["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"]
        for entry in rule["http"]["paths"]
    }
    assert paths["/"] == "parley-web"
    assert paths["/v1/chats"] == "parley-chat"
    assert paths["/v1/auth"] == "parley-auth"
    (route,) = charts.of_kind(manifests, "HTTPRoute")
    routed = {
        match["path"]["value"]: rule["backendRefs"][0]["name"]
        for rule in route["spec"]["rules"]
        for match in rule["matches"]
    }
    assert routed == paths


def test_only_the_ingress_controller_reaches_the_web_client() -> None:
    manifests = charts.template("parley", *WEB, "--set", "networkPolicy.enabled=true")
    policy = charts.named(manifests, "NetworkPolicy", "parley-web")
    (rule,) = policy["spec"]["ingress"]
    assert [peer["podSelector"]["matchLabels"] for peer in rule["from"]] == [
        {"app.kubernetes.io/name": "ingress-nginx"}
    ]
    pods = charts.named(manifests, "Deployment", "parley-web")["spec"]["selector"]
    assert policy["spec"]["podSelector"] == pods


def test_an_api_on_another_origin_is_passed_to_the_web_client() -> None:
    manifests = charts.template("parley", *WEB, "--set", "web.apiUrl=https://api.chat.example.com")
    deployment = charts.named(manifests, "Deployment", "parley-web")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PARLEY_WEB_API_URL"] == "https://api.chat.example.com"


@pytest.mark.parametrize(
    ("store", "origin"),
    [
        (("--set", "objectStorage.region=eu-west-1"), "https://s3.eu-west-1.amazonaws.com"),
        (("--set", "objectStorage.region=us-east-1"), "https://s3.amazonaws.com"),
        (
            ("--set", "objectStorage.endpoint=https://storage.googleapis.com"),
            "https://storage.googleapis.com",
        ),
        (
            ("--set", "objectStorage.endpoint=http://minio.storage:9000/"),
            "http://minio.storage:9000",
        ),
    ],
)
def test_the_web_client_may_reach_the_object_store_that_chat_presigns_for(
    store: tuple[str, ...], origin: str
) -> None:
    manifests = charts.template("parley", *WEB, "--set", "objectStorage.bucket=files", *store)
    (container,) = charts.named(manifests, "Deployment", "parley-web")["spec"]["template"]["spec"][
        "containers"
    ]
    assert charts.env(container)["PARLEY_WEB_STORE_ORIGIN"] == origin
    # Without a bucket, files go through chat's own origin: nothing to add.
    (plain,) = charts.named(charts.template("parley", *WEB), "Deployment", "parley-web")["spec"][
        "template"
    ]["spec"]["containers"]
    assert "PARLEY_WEB_STORE_ORIGIN" not in charts.env(plain)
