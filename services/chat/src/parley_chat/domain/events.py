"""What the chat domain announces after each commit, for the live stream to deliver.

Each of them is also an event of the tenant's feed (docs/integrations.md "The event
feed"), written in the change's own transaction (storage/feed.py), so the feed misses
none of them even when an announcement is lost.

Events are announced only after their transaction committed (never for a rollback), and
announcing never fails a request: a lost announcement is repaired by the stream's gap
fill and by `resume`, which read the log itself (docs/architecture.md, "The stream").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from parley_chat.domain.views import MemberView, MessageView


@dataclass(frozen=True, slots=True)
class MessageEvent:
    kind: Literal["message", "message.updated"]
    message: MessageView
    tenant: str | None = None
    """The tenant whose feed holds the event, so its feed's long polls wake (None: the
    publisher tells no feed)."""


@dataclass(frozen=True, slots=True)
class MemberEvent:
    kind: Literal["member.joined", "member.left"]
    chat_id: uuid.UUID
    member: MemberView
    last_seq: int
    """The chat's last `seq` when the membership changed: a joiner's stream starts there."""
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class ReactionEvent:
    chat_id: uuid.UUID
    seq: int
    emoji: str
    user_id: uuid.UUID
    op: Literal["add", "remove"]
    count: int
    """How many users react with `emoji` right after this change."""
    kind: Literal["reaction"] = "reaction"
    tenant: str | None = None


ChatEvent = MessageEvent | MemberEvent | ReactionEvent

FrameEncoder = Callable[[ChatEvent], bytes]
"""The event's stream frame as clients receive it (realtime/wire.py `frame_of`): the feed
stores that same frame as its event's `data`, written in the change's transaction."""


def chat_of(event: ChatEvent) -> uuid.UUID:
    return event.message.chat_id if isinstance(event, MessageEvent) else event.chat_id


class Publisher(Protocol):
    async def publish(self, event: ChatEvent) -> None:
        """Announce a committed change. Must not raise: failures are the publisher's to log."""
        ...
