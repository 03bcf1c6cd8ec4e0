"""The Tenant resource, parsed once at the operator's edge into typed values.

Handlers never walk `body["spec"][...]` dicts (docs/style.md rule 6): `parse()` turns a
Tenant's name and spec into a `Tenant`, or raises `InvalidSpec` with a message that says
what to fix. The CRD (charts/parley-crds/files/tenants.parley.dev.yaml) enforces the
same rules in the API server; they are checked here again because an operator cannot
assume the CRD it finds was installed from the same release.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import ErrorDetails

GROUP = "parley.dev"
VERSION = "v1alpha1"
PLURAL = "tenants"
KIND = "Tenant"

# docs/api.md "Names". fullmatch, so a trailing newline cannot slip past `$`.
SLUG_PATTERN = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")
# Kubernetes object names (RFC 1123 subdomain) and Secret data keys.
OBJECT_NAME_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
SECRET_KEY_PATTERN = re.compile(r"[-._a-zA-Z0-9]{1,253}")


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid {what} (pattern {pattern.pattern})")
        return value

    return AfterValidator(check)


def _visible_text(value: str) -> str:
    # The auth service refuses control characters in display names (422); saying so
    # here gives the message before a round trip.
    if not value.strip() or any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must be visible text without control characters")
    return value


Username = Annotated[str, _matching(USERNAME_PATTERN, "username")]
DisplayName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_visible_text)]


class _SpecModel(BaseModel):
    # camelCase in the resource, snake_case in Python. Unknown fields are ignored the way
    # the API server prunes them, so a newer CRD does not break an older operator. Strict:
    # "yes" where a boolean belongs is a mistake to report, not a value to guess at.
    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore", strict=True
    )


class Limits(_SpecModel):
    """docs/api.md `limits`; the defaults are the auth service's."""

    max_users: int = Field(default=10_000, ge=1, le=1_000_000_000)
    messages_per_minute: int = Field(default=120, ge=1, le=1_000_000_000)
    max_message_chars: int = Field(default=4000, ge=1, le=100_000)
    max_attachment_bytes: int = Field(default=26_214_400, ge=1, le=5 * 2**40)


class SecretKeyRef(_SpecModel):
    name: Annotated[str, _matching(OBJECT_NAME_PATTERN, "Secret name")]
    key: Annotated[str, _matching(SECRET_KEY_PATTERN, "Secret key")] = "password"


class Admin(_SpecModel):
    username: Username
    password_secret_ref: SecretKeyRef | None = None


class ServerKeySpec(_SpecModel):
    """docs/api.md "Tenant backends": a key the operator issues into
    `<tenant>-server-key-<name>`; its name follows the slug's rules."""

    name: Annotated[str, _matching(SLUG_PATTERN, "server key name")]


def _unique_names(keys: list[ServerKeySpec]) -> list[ServerKeySpec]:
    names = [key.name for key in keys]
    if len(set(names)) != len(names):
        raise ValueError("each server key needs a name of its own")
    return keys


class TenantSpec(_SpecModel):
    display_name: DisplayName | None = None
    self_registration: bool = False
    suspended: bool = False
    limits: Limits = Limits()
    admin: Admin | None = None
    server_keys: Annotated[
        list[ServerKeySpec], Field(max_length=32), AfterValidator(_unique_names)
    ] = Field(default_factory=list)
    adopt: bool = False
    """Take over what this resource did not create: an existing tenant in auth, an existing
    user named `admin.username` (its password is replaced) and an existing `<name>-admin`
    Secret (it becomes owned by the Tenant, so it is deleted with it). Without it the
    operator refuses each, so a Tenant cannot seize another's tenant, user or Secret."""


@dataclass(frozen=True)
class Tenant:
    """A Tenant resource as the operator acts on it: its slug and its typed spec."""

    slug: str
    namespace: str
    spec: TenantSpec

    @property
    def admin_secret_name(self) -> str:
        return f"{self.slug}-admin"

    def server_key_secret_name(self, key_name: str) -> str:
        # A slug and a key name of 32 characters each keep this under 253 (RFC 1123).
        return f"{self.slug}-server-key-{key_name}"


class InvalidSpec(ValueError):
    """The resource cannot be applied as written; the message says what to change."""


def parse(name: str, namespace: str, spec: Mapping[str, Any] | None) -> Tenant:
    problems = []
    if not SLUG_PATTERN.fullmatch(name):
        # docs/api.md: the slug is the resource name, so the name must be a valid slug.
        problems.append(
            f"metadata.name: {name!r} is not a valid tenant slug: 1 to 32 characters of a-z, "
            "0-9 and '-', starting and ending with a letter or digit"
        )
    try:
        typed = TenantSpec.model_validate(dict(spec or {}))
    except pydantic.ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors())
    if problems:
        raise InvalidSpec("; ".join(problems) + ". Fix the Tenant and apply it again.")
    return Tenant(slug=name, namespace=namespace, spec=typed)


def _describe(error: ErrorDetails) -> str:
    location = ".".join(["spec", *(str(part) for part in error["loc"])])
    message = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    if isinstance(value, bool | int | float | str) and repr(value) not in message:
        message = f"{message} (got {value!r})"
    return f"{location}: {message}"
