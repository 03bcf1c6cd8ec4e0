"""The Tenant CRD's schema, the examples in k8s/examples/, and their agreement with the
operator's typed spec and the auth service's defaults.

kmock validates nothing and kubernetes-validate only warns on custom resources
(docs/tooling.md), so Tenants are checked here against the CRD's openAPIV3Schema with
jsonschema.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from parley_auth.domain.service import TenantLimits
from parley_operator import spec
from parley_operator.reconcile import status

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "charts/parley-crds/files/tenants.parley.dev.yaml"
EXAMPLES = sorted((ROOT / "k8s/examples").glob("*.yaml"))


def crd() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    return loaded


def version() -> dict[str, Any]:
    (only,) = crd()["spec"]["versions"]
    served: dict[str, Any] = only
    return served


def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(version()["schema"]["openAPIV3Schema"])


def tenant(name: str = "acme", **spec_fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "parley.dev/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": spec_fields,
    }


def problems(document: dict[str, Any]) -> list[str]:
    return [error.message for error in validator().iter_errors(document)]


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in EXAMPLES:
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((f"{path.name}:{document['metadata']['name']}", document))
    return found


def test_the_crd_is_a_valid_kubernetes_object_with_the_names_the_operator_watches() -> None:
    kubernetes_validate.validate(crd(), "1.33.0", strict=True)
    definition = crd()["spec"]
    assert crd()["metadata"]["name"] == f"{spec.PLURAL}.{spec.GROUP}"
    assert (definition["group"], definition["scope"]) == (spec.GROUP, "Namespaced")
    assert (definition["names"]["kind"], definition["names"]["plural"]) == (spec.KIND, spec.PLURAL)
    assert version()["name"] == spec.VERSION


def test_the_crd_has_a_status_subresource_and_ready_phase_users_and_age_columns() -> None:
    assert version()["subresources"] == {"status": {}}
    columns = {column["name"]: column for column in version()["additionalPrinterColumns"]}
    assert next(iter(columns)) == "Ready"
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Phase"]["jsonPath"] == ".status.phase"
    assert (columns["Users"]["jsonPath"], columns["Users"]["type"]) == (".status.users", "integer")
    assert (columns["Age"]["jsonPath"], columns["Age"]["type"]) == (
        ".metadata.creationTimestamp",
        "date",
    )


@pytest.mark.parametrize("name", ["a", "acme", "acme-2", "0x", "a" * 32])
def test_names_that_are_tenant_slugs_are_accepted(name: str) -> None:
    assert problems(tenant(name)) == []


@pytest.mark.parametrize("name", ["Acme", "-acme", "acme-", "ac.me", "ac_me", "a" * 33, ""])
def test_names_that_break_the_slug_rule_are_rejected(name: str) -> None:
    assert problems(tenant(name)), f"{name!r} was accepted"


def test_the_crd_and_the_operator_share_the_slug_and_username_rules() -> None:
    schema = version()["schema"]["openAPIV3Schema"]
    name_pattern = schema["properties"]["metadata"]["properties"]["name"]["pattern"]
    admin = schema["properties"]["spec"]["properties"]["admin"]["properties"]
    assert name_pattern == f"^{spec.SLUG_PATTERN.pattern}$"
    assert admin["username"]["pattern"] == f"^{spec.USERNAME_PATTERN.pattern}$"
    keys = schema["properties"]["spec"]["properties"]["serverKeys"]["items"]["properties"]
    assert keys["name"]["pattern"] == f"^{spec.SLUG_PATTERN.pattern}$"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"limits": {"maxUsers": 0}}, "0 is less than the minimum of 1"),
        ({"limits": {"maxMessageChars": 100_001}}, "100001 is greater than the maximum"),
        ({"selfRegistration": "yes"}, "'yes' is not of type 'boolean'"),
        ({"displayName": ""}, "'' should be non-empty"),
        ({"admin": {}}, "'username' is a required property"),
        ({"admin": {"username": "Root"}}, "'Root' does not match"),
        ({"admin": {"username": "root", "passwordSecretRef": {}}}, "'name' is a required"),
        ({"serverKeys": [{}]}, "'name' is a required property"),
        ({"serverKeys": [{"name": "Backend"}]}, "'Backend' does not match"),
        ({"serverKeys": [{"name": "x" * 33}]}, "is too long"),
        ({"serverKeys": "backend"}, "'backend' is not of type 'array'"),
    ],
)
def test_the_schema_rejects_a_spec_the_operator_would_refuse(
    fields: dict[str, Any], expected: str
) -> None:
    found = problems(tenant(**fields))
    assert any(expected in problem for problem in found), found
    with pytest.raises(spec.InvalidSpec):
        spec.parse("acme", "default", fields)


def test_the_crd_defaults_are_the_operators_and_the_auth_services() -> None:
    properties = version()["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    limits = properties["limits"]["properties"]
    defaults = spec.TenantSpec()
    assert properties["selfRegistration"]["default"] is defaults.self_registration is False
    assert properties["suspended"]["default"] is defaults.suspended is False
    assert properties["adopt"]["default"] is defaults.adopt is False
    auth_defaults = TenantLimits()
    assert limits["maxUsers"]["default"] == defaults.limits.max_users == auth_defaults.max_users
    assert (
        limits["messagesPerMinute"]["default"]
        == defaults.limits.messages_per_minute
        == auth_defaults.messages_per_minute
    )
    assert (
        limits["maxMessageChars"]["default"]
        == defaults.limits.max_message_chars
        == auth_defaults.max_message_chars
    )
    assert (
        limits["maxAttachmentBytes"]["default"]
        == defaults.limits.max_attachment_bytes
        == auth_defaults.max_attachment_bytes
    )
    ref = properties["admin"]["properties"]["passwordSecretRef"]["properties"]
    assert ref["key"]["default"] == spec.SecretKeyRef(name="x").key


def test_the_status_schema_admits_every_phase_the_operator_writes() -> None:
    schema = version()["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert schema["phase"]["enum"] == [phase.value for phase in status.Phase]
    # The API server prunes status fields the schema lacks; the operator's record of the
    # tenant it owns must survive.
    assert schema["ownsTenant"]["type"] == "boolean"


@pytest.mark.parametrize(
    "outcome",
    [
        status.provisioned(suspended=False, users=1, admin_secret_name="acme-admin"),
        status.provisioned(suspended=True, users=1, admin_secret_name=None),
        status.waiting("AuthUnavailable", "auth did not answer", retry_in=1),
        status.failed(status.Reason.TENANT_EXISTS, "auth already holds a tenant"),
    ],
    ids=lambda outcome: f"{outcome.phase}-{outcome.reason}",
)
def test_every_status_the_operator_writes_is_valid_against_the_status_schema(
    outcome: status.Outcome,
) -> None:
    fields = status.patch(outcome, previous=[], generation=1, now=datetime.now(UTC))
    written = {key: value for key, value in fields.items() if value is not None}
    assert problems({**tenant(), "status": written}) == []
    # Each condition carries every field of metav1.Condition (Kubernetes API conventions).
    for condition in written["conditions"]:
        assert set(condition) == {
            "type",
            "status",
            "reason",
            "message",
            "lastTransitionTime",
            "observedGeneration",
        }
        assert re.fullmatch(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?", condition["reason"])


def test_there_are_examples_for_every_part_of_the_spec() -> None:
    used = set()
    for _, document in documents():
        if document["kind"] == "Tenant":
            used |= set(document["spec"])
    assert used == {
        "displayName",
        "selfRegistration",
        "suspended",
        "limits",
        "admin",
        "serverKeys",
        "adopt",
    }


@pytest.mark.parametrize(("where", "document"), documents(), ids=lambda value: str(value)[:60])
def test_each_example_is_valid_against_its_schema(where: str, document: dict[str, Any]) -> None:
    if document["kind"] == "Tenant":
        assert problems(document) == [], where
        parsed = spec.parse(document["metadata"]["name"], "default", document["spec"])
        assert re.fullmatch(spec.SLUG_PATTERN, parsed.slug)
    else:
        kubernetes_validate.validate(document, "1.33.0", strict=True)


def test_every_password_secret_an_example_names_is_in_the_same_file() -> None:
    for path in EXAMPLES:
        loaded = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        secrets = {doc["metadata"]["name"] for doc in loaded if doc["kind"] == "Secret"}
        for document in loaded:
            ref = (document.get("spec", {}).get("admin") or {}).get("passwordSecretRef")
            if ref:
                assert ref["name"] in secrets, path.name
