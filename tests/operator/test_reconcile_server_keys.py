"""`reconcile.server_keys.plan`: which keys to keep, revoke and issue, without kopf or HTTP."""

from __future__ import annotations

from parley_operator.reconcile.server_keys import Plan, plan


def test_a_key_whose_secret_names_it_is_kept() -> None:
    assert (
        plan(
            desired=["backend"],
            issued={"backend": "k1"},
            held={"backend": "k1"},
            managed=["backend"],
        )
        == Plan()
    )


def test_a_new_name_is_issued() -> None:
    assert plan(desired=["backend"], issued={}, held={"backend": None}, managed=[]) == Plan(
        issue=("backend",)
    )


def test_a_key_without_its_secret_is_revoked_and_issued_again() -> None:
    for held in (None, "k0"):
        assert plan(
            desired=["backend"], issued={"backend": "k1"}, held={"backend": held}, managed=[]
        ) == Plan(revoke={"backend": "k1"}, issue=("backend",))


def test_a_name_removed_from_the_spec_is_revoked_and_its_secret_deleted() -> None:
    assert plan(desired=[], issued={"old": "k1", "manual": "k2"}, held={}, managed=["old"]) == Plan(
        revoke={"old": "k1"}, delete_secrets=("old",)
    )


def test_a_removed_name_whose_key_is_gone_only_loses_its_secret() -> None:
    assert plan(desired=[], issued={}, held={}, managed=["old"]) == Plan(delete_secrets=("old",))
