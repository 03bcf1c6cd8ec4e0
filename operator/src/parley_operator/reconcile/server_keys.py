"""A Tenant's `spec.serverKeys` against what auth and the namespace hold: which keys to
issue, which to revoke, which Secrets to delete.

A key's secret is shown once, when auth issues it, so the Secret that holds it is the only
copy: each Secret records the id of the key it holds (an annotation), and a key is kept
only when its Secret names it. A Secret that is missing, not ours or names another id
means the key in auth is unusable to anyone: it is revoked and a new one issued, so a
re-reconcile or a restart never issues a duplicate and never leaves a key behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

KEY_ID_ANNOTATION = "parley.dev/server-key-id"
SECRET_KEYS = ("key", "tenant", "url")


@dataclass(frozen=True)
class Plan:
    revoke: dict[str, str] = field(default_factory=dict)
    """Name to id of each key in auth to revoke first."""
    issue: tuple[str, ...] = ()
    """Names to issue a new key for (and write its Secret)."""
    delete_secrets: tuple[str, ...] = ()
    """Names whose Secret goes, their key removed from the spec."""


def plan(
    *,
    desired: Iterable[str],
    issued: Mapping[str, str],
    held: Mapping[str, str | None],
    managed: Iterable[str],
) -> Plan:
    """`issued`: auth's keys, name to id; `held`: for each desired name, the key id its
    Secret records (None when the Secret is missing or unusable); `managed`: the names
    this Tenant issued before (its status), so keys it never made are left alone."""
    wanted = list(dict.fromkeys(desired))
    revoke: dict[str, str] = {}
    issue = []
    for name in wanted:
        key_id = issued.get(name)
        if key_id is not None and held.get(name) == key_id:
            continue
        if key_id is not None:
            revoke[name] = key_id
        issue.append(name)
    removed = [name for name in dict.fromkeys(managed) if name not in wanted]
    for name in removed:
        if name in issued:
            revoke[name] = issued[name]
    return Plan(revoke=revoke, issue=tuple(issue), delete_secrets=tuple(removed))


def secret_data(*, key: str, tenant: str, url: str) -> dict[str, str]:
    """What `<tenant>-server-key-<name>` holds: the key, and where and for whom it works."""
    return {"key": key, "tenant": tenant, "url": url}
