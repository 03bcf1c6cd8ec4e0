"""What the chat domain announces after each commit, for the live stream to deliver.

Events are announced only after their transaction committed (never for a rollback), and
announcing never fails a request: a lost announcement is repaired by the stream's gap
fill and by `resume`, which read the log itself (docs/architecture.md, "The stream").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from parley_chat.domain.views import MemberView, MessageView


@dataclass(frozen=True, slots=True)
class MessageEvent:
    kind: Literal["message", "message.updated"]
    message: MessageView


@dataclass(frozen=True, slots=True)
class MemberEvent:
    kind: Literal["member.joined", "member.left"]
    chat_id: uuid.UUID
    member: MemberView
    last_seq: int
    """The chat's last `seq` when the membership changed: a joiner's stream starts there."""


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


ChatEvent = MessageEvent | MemberEvent | ReactionEvent


class Publisher(Protocol):
    async def publish(self, event: ChatEvent) -> None:
        """Announce a committed change. Must not raise: failures are the publisher's to log."""
        ...
