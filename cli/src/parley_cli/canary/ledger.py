"""What the canary's arrivals mean: pure bookkeeping, no I/O, so it is tested alone.

contract (docs/api.md "Real-time stream"): an acknowledged message is never lost, and each
chat's messages arrive in `seq` order with no duplicate. So, per stream:
- a `seq` that stream already delivered is a duplicate;
- a `seq` below the highest it delivered, and not delivered before, is out of order;
- a message sent but not delivered on a stream within `loss_seconds` is lost for it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

_SEEN_KEPT = 10_000


@dataclass
class _Stream:
    seen: set[int] = field(default_factory=set)
    order: deque[int] = field(default_factory=deque)
    highest: int = 0

    def remember(self, seq: int) -> None:
        self.seen.add(seq)
        self.order.append(seq)
        if len(self.order) > _SEEN_KEPT:
            self.seen.discard(self.order.popleft())
        self.highest = max(self.highest, seq)


@dataclass(frozen=True)
class Arrival:
    """One `message` frame, as the canary judged it."""

    duplicate: bool = False
    out_of_order: bool = False
    delay: float | None = None
    """Seconds from the send to this arrival, for a message this run sent and this
    stream had not delivered yet."""


@dataclass
class _Pending:
    sent_at: float
    streams: set[str]
    acknowledged: bool = False


class Ledger:
    def __init__(self, *, loss_seconds: float) -> None:
        self._loss_seconds = loss_seconds
        self._streams: dict[str, _Stream] = {}
        self._pending: dict[str, _Pending] = {}

    @property
    def streams(self) -> list[str]:
        return list(self._streams)

    def add_stream(self, name: str) -> None:
        self._streams.setdefault(name, _Stream())

    def remove_stream(self, name: str) -> None:
        self._streams.pop(name, None)
        for pending in self._pending.values():
            pending.streams.discard(name)

    def sending(self, client_msg_id: str, at: float) -> None:
        """Before the POST: the message may reach a stream before its answer does."""
        self._pending[client_msg_id] = _Pending(at, set(self._streams))

    def acknowledged(self, client_msg_id: str) -> None:
        if client_msg_id in self._pending:
            self._pending[client_msg_id].acknowledged = True

    def refused(self, client_msg_id: str) -> None:
        """The POST failed: nothing was promised, so nothing can be lost."""
        self._pending.pop(client_msg_id, None)

    def received(self, stream: str, seq: int, client_msg_id: str | None, at: float) -> Arrival:
        state = self._streams.get(stream)
        if state is None:
            return Arrival()
        if seq in state.seen:
            return Arrival(duplicate=True)
        out_of_order = seq < state.highest
        state.remember(seq)
        delay = None
        pending = self._pending.get(client_msg_id or "")
        if pending is not None and stream in pending.streams:
            pending.streams.discard(stream)
            delay = max(0.0, at - pending.sent_at)
            if not pending.streams:
                del self._pending[client_msg_id or ""]
        return Arrival(out_of_order=out_of_order, delay=delay)

    def expire(self, now: float) -> int:
        """Count, and forget, deliveries overdue by `loss_seconds`: acknowledged messages
        some stream never delivered. Unacknowledged ones are forgotten uncounted."""
        lost = 0
        for client_msg_id, pending in list(self._pending.items()):
            if now - pending.sent_at < self._loss_seconds:
                continue
            if pending.acknowledged:
                lost += len(pending.streams)
            del self._pending[client_msg_id]
        return lost
