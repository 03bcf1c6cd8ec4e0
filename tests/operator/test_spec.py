"""Parsing a Tenant into the typed spec, and what the message says when it cannot be."""

from __future__ import annotations

import pytest

from parley_operator import spec


def test_an_empty_spec_takes_every_default() -> None:
    parsed = spec.parse("acme", "team-a", None)
    assert (parsed.slug, parsed.namespace, parsed.admin_secret_name) == (
        "acme",
        "team-a",
        "acme-admin",
    )
    assert parsed.spec == spec.TenantSpec()
    assert parsed.spec.limits == spec.Limits(
        max_users=10_000, messages_per_minute=120, max_message_chars=4000
    )


def test_camel_case_fields_become_the_typed_spec() -> None:
    parsed = spec.parse(
        "acme",
        "default",
        {
            "displayName": "Acme",
            "selfRegistration": True,
            "suspended": True,
            "limits": {
                "maxUsers": 5,
                "messagesPerMinute": 6,
                "maxMessageChars": 7,
                "maxAttachmentBytes": 8,
            },
            "admin": {"username": "root", "passwordSecretRef": {"name": "pw"}},
            "somethingNewer": "ignored, as the API server would prune it",
        },
    )
    assert parsed.spec.display_name == "Acme"
    assert (parsed.spec.self_registration, parsed.spec.suspended) == (True, True)
    assert parsed.spec.limits == spec.Limits(
        max_users=5, messages_per_minute=6, max_message_chars=7, max_attachment_bytes=8
    )
    assert parsed.spec.admin == spec.Admin(
        username="root", password_secret_ref=spec.SecretKeyRef(name="pw", key="password")
    )


@pytest.mark.parametrize("name", ["Acme", "acme-", "a" * 33, "acme\n", "ac.me"])
def test_a_name_that_is_not_a_tenant_slug_is_invalid(name: str) -> None:
    with pytest.raises(spec.InvalidSpec, match=r"^metadata\.name: .* is not a valid tenant slug"):
        spec.parse(name, "default", {})


def test_the_message_lists_every_problem_with_its_field_and_value() -> None:
    with pytest.raises(spec.InvalidSpec) as raised:
        spec.parse(
            "acme",
            "default",
            {
                "displayName": "tab\there",
                "limits": {"maxUsers": 0},
                "admin": {"username": "Root"},
            },
        )
    message = str(raised.value)
    assert "spec.displayName: must be visible text without control characters" in message
    assert "spec.limits.maxUsers: Input should be greater than or equal to 1 (got 0)" in message
    assert "spec.admin.username: 'Root' is not a valid username" in message
    assert message.endswith(". Fix the Tenant and apply it again.")


def test_a_password_secret_reference_needs_a_valid_name() -> None:
    with pytest.raises(spec.InvalidSpec, match=r"spec\.admin\.passwordSecretRef\.name"):
        spec.parse(
            "acme",
            "default",
            {"admin": {"username": "root", "passwordSecretRef": {"name": "Bad_Name"}}},
        )


def test_adopting_what_the_tenant_did_not_create_is_an_explicit_boolean() -> None:
    assert spec.parse("acme", "default", {"adopt": True}).spec.adopt is True
    assert spec.parse("acme", "default", {}).spec.adopt is False
    with pytest.raises(spec.InvalidSpec, match=r"spec\.adopt"):
        spec.parse("acme", "default", {"adopt": "yes"})
