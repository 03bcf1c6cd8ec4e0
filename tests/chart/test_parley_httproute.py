"""The Gateway API route beside the Ingress: an HTTPRoute that splits docs/api.md's public
paths like the Ingress, keeps `/internal` unrouted, gives the stream its WebSocket timeouts,
and validates against the Gateway API v1 schema; the Ingress carries ingress-nginx
annotations only for the `nginx` class."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from support import charts

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "httproute-v1.json").read_text())
GATEWAY = ("--set", "httpRoute.enabled=true", "--set", "httpRoute.parentRefs[0].name=public")


def route(*arguments: str) -> charts.Manifest:
    (found,) = charts.of_kind(charts.template("parley", *GATEWAY, *arguments), "HTTPRoute")
    return found


def test_the_route_splits_the_public_paths_between_the_services_like_the_ingress() -> None:
    manifests = charts.template("parley", *GATEWAY)
    (http_route,) = charts.of_kind(manifests, "HTTPRoute")
    (ingress,) = charts.of_kind(manifests, "Ingress")
    routed = {
        match["path"]["value"]: rule["backendRefs"][0]["name"]
        for rule in http_route["spec"]["rules"]
        for match in rule["matches"]
    }
    (host,) = ingress["spec"]["rules"]
    assert routed == {
        path["path"]: path["backend"]["service"]["name"] for path in host["http"]["paths"]
    }
    assert not [path for path in routed if path.startswith("/internal")]
    assert http_route["spec"]["parentRefs"] == [{"name": "public"}]


def test_the_stream_rule_has_the_websocket_timeouts_and_the_others_none() -> None:
    rules = route("--set", "httpRoute.websocketTimeoutSeconds=7200")["spec"]["rules"]
    (stream,) = (r for r in rules if r["matches"][0]["path"]["value"] == "/v1/stream")
    assert stream["timeouts"] == {"request": "7200s", "backendRequest": "7200s"}
    assert [r for r in rules if "timeouts" in r] == [stream]
    off = route("--set", "httpRoute.websocketTimeoutSeconds=0")["spec"]["rules"]
    assert [r["timeouts"] for r in off if "timeouts" in r] == [
        {"request": "0s", "backendRequest": "0s"}
    ]


def test_the_route_validates_against_the_gateway_api_schema_which_catches_mistakes() -> None:
    valid = route("--set", "httpRoute.hostnames[0]=chat.example.com")
    jsonschema.Draft202012Validator(SCHEMA).validate(valid)
    broken = json.loads(json.dumps(valid))
    broken["spec"]["rules"][0]["timeouts"] = {"request": "an hour"}
    broken["spec"]["hostnames"] = ["Chat.Example.com"]
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(broken))
    assert len(errors) == 2


def test_a_route_without_a_gateway_fails_the_render() -> None:
    assert "httpRoute.parentRefs" in charts.render_error(
        "parley", "--set", "httpRoute.enabled=true"
    )


@pytest.mark.parametrize("class_name", ["traefik", "haproxy", ""])
def test_the_ingress_has_no_ingress_nginx_annotations_for_another_class(class_name: str) -> None:
    manifests = charts.template(
        "parley",
        "--set",
        f"ingress.className={class_name}",
        "--set",
        "ingress.annotations.example\\.com/timeout=1h",
    )
    (ingress,) = charts.of_kind(manifests, "Ingress")
    annotations = ingress["metadata"].get("annotations", {})
    assert annotations == {"example.com/timeout": "1h"}
    assert ingress["spec"].get("ingressClassName", "") == class_name
