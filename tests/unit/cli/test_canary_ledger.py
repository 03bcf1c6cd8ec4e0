"""parley_cli.canary.ledger: what each delivery the canary sees means."""

from __future__ import annotations

from parley_cli.canary.ledger import Ledger


def _ledger(*streams: str) -> Ledger:
    ledger = Ledger(loss_seconds=10)
    for stream in streams:
        ledger.add_stream(stream)
    return ledger


def test_a_delivery_on_each_stream_is_timed_once_and_nothing_is_lost() -> None:
    ledger = _ledger("a", "b")
    ledger.sending("m1", at=100.0)
    ledger.acknowledged("m1")

    first = ledger.received("a", 1, "m1", at=100.5)
    second = ledger.received("b", 1, "m1", at=101.0)

    assert (first.delay, second.delay) == (0.5, 1.0)
    assert not first.duplicate
    assert not first.out_of_order
    assert ledger.expire(now=1000.0) == 0


def test_the_same_seq_twice_on_a_stream_is_a_duplicate() -> None:
    ledger = _ledger("a")
    ledger.received("a", 1, "m1", at=1.0)

    again = ledger.received("a", 1, "m1", at=2.0)

    assert again.duplicate
    assert again.delay is None


def test_a_lower_seq_after_a_higher_one_is_out_of_order() -> None:
    ledger = _ledger("a")
    ledger.received("a", 2, None, at=1.0)

    assert ledger.received("a", 1, None, at=2.0).out_of_order
    assert not ledger.received("a", 3, None, at=3.0).out_of_order


def test_an_acknowledged_message_a_stream_never_delivered_is_lost_for_that_stream() -> None:
    ledger = _ledger("a", "b")
    ledger.sending("m1", at=0.0)
    ledger.acknowledged("m1")
    ledger.received("a", 1, "m1", at=0.1)

    assert ledger.expire(now=5.0) == 0
    assert ledger.expire(now=10.0) == 1
    assert ledger.expire(now=20.0) == 0


def test_a_refused_or_unacknowledged_send_is_never_counted_lost() -> None:
    ledger = _ledger("a")
    ledger.sending("refused", at=0.0)
    ledger.refused("refused")
    ledger.sending("unanswered", at=0.0)

    assert ledger.expire(now=100.0) == 0


def test_a_stream_that_went_away_owes_nothing() -> None:
    ledger = _ledger("a", "b")
    ledger.sending("m1", at=0.0)
    ledger.acknowledged("m1")
    ledger.received("a", 1, "m1", at=0.1)
    ledger.remove_stream("b")

    assert ledger.expire(now=100.0) == 0
