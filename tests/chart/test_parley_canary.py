"""The delivery canary in the parley chart (`canary.enabled`, docs/observability.md
"Delivery canary"): off by default; on, one pod streaming from every chat pod through a
headless Service, admitted by the NetworkPolicies and scraped by the ServiceMonitor."""

from __future__ import annotations

from support import charts

ON = ("--set", "canary.enabled=true", "--set", "canary.password=pw")


def test_the_canary_is_off_by_default() -> None:
    manifests = charts.template("parley")
    assert not [m for m in manifests if m["metadata"]["name"].endswith("-canary")]


def test_the_canary_streams_from_every_chat_pod_and_sends_through_the_services() -> None:
    manifests = charts.template("parley", *ON, namespace="chat-ns")
    deployment = charts.named(manifests, "Deployment", "parley-canary")
    assert deployment["spec"]["replicas"] == 1
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["parley-canary"]
    variables = {item["name"]: item for item in container["env"]}
    assert variables["PARLEY_CANARY_API_URL"]["value"] == "http://parley-chat.chat-ns.svc:8000"
    assert variables["PARLEY_CANARY_AUTH_URL"]["value"] == "http://parley-auth.chat-ns.svc:8000"
    assert variables["PARLEY_CANARY_REPLICAS_DNS"]["value"] == "parley-chat-pods.chat-ns.svc:8000"
    password = variables["PARLEY_CANARY_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": "parley-canary", "key": "password"}
    pods = charts.named(manifests, "Service", "parley-chat-pods")
    assert pods["spec"]["clusterIP"] == "None"
    chat = charts.named(manifests, "Deployment", "parley-chat")
    assert pods["spec"]["selector"] == chat["spec"]["selector"]["matchLabels"]


def test_an_existing_secret_replaces_the_rendered_one() -> None:
    manifests = charts.template(
        "parley", "--set", "canary.enabled=true", "--set", "canary.existingSecret=mine"
    )
    assert not [
        m for m in charts.of_kind(manifests, "Secret") if m["metadata"]["name"] == "parley-canary"
    ]
    deployment = charts.named(manifests, "Deployment", "parley-canary")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    (password,) = [item for item in container["env"] if item["name"] == "PARLEY_CANARY_PASSWORD"]
    assert password["valueFrom"]["secretKeyRef"]["name"] == "mine"


def test_a_canary_without_a_password_fails_the_render() -> None:
    assert "canary.password or canary.existingSecret" in charts.render_error(
        "parley", "--set", "canary.enabled=true"
    )


def test_the_network_policies_admit_the_canary_and_prometheus_scrapes_it() -> None:
    manifests = charts.template(
        "parley", *ON, "--set", "networkPolicy.enabled=true", "--set", "serviceMonitor.enabled=true"
    )
    canary = charts.named(manifests, "Deployment", "parley-canary")
    labels = canary["spec"]["selector"]["matchLabels"]
    for name in ("parley-auth", "parley-chat"):
        policy = charts.named(manifests, "NetworkPolicy", name)
        peers = [peer for rule in policy["spec"]["ingress"] for peer in rule.get("from", [])]
        assert {"podSelector": {"matchLabels": labels}} in peers, name
    (monitor,) = charts.of_kind(manifests, "ServiceMonitor")
    (components,) = [
        e["values"]
        for e in monitor["spec"]["selector"]["matchExpressions"]
        if e["key"] == "app.kubernetes.io/component"
    ]
    assert "canary" in components
