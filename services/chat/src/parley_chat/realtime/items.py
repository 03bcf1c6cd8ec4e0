"""What a stream connection's dispatcher takes from its queue, in order
(realtime/connection.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from parley_chat.realtime import sequencer as sequencing
from parley_chat.realtime import wire


@dataclass(frozen=True, slots=True)
class Live:
    event: wire.Event
    """A broker event, opened once for the whole process."""


@dataclass(frozen=True, slots=True)
class Decided:
    """A live event the fan-out already asked the sequencer about (the queue was empty,
    so nothing was ahead of it), whose verdict needs I/O: a subscription, a gap fill."""

    event: wire.Event
    verdict: sequencing.Verdict


@dataclass(frozen=True, slots=True)
class Reply:
    frame: bytes
    """An answer to the client's own frame: pong, error."""


@dataclass(frozen=True, slots=True)
class Resume:
    cursors: dict[uuid.UUID, int]


@dataclass(frozen=True, slots=True)
class Resync:
    """The broker lost events: catch every chat up from the log."""


@dataclass(frozen=True, slots=True)
class Recheck:
    """Re-read the user's chats: drop the ones left, catch up the ones behind."""


Item = Live | Decided | Reply | Resume | Resync | Recheck
