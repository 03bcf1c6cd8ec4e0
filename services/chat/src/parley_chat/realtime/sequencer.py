"""The stream's sequencing rules, without I/O: what one connection writes, drops and reads
back from the log, per chat, so that the client sees each `seq` once and in order
(docs/api.md "Real-time stream"; docs/stream.md "No gap, no duplicate").

`Connection` (realtime/connection.py) feeds it every event in the order it takes them,
live ones from the broker, pages read from the log, the client's resume and the
database's membership, and does what each `Verdict` or `Fill` says: subscribe, write,
read the log, unsubscribe. Nothing here awaits, so every interleaving of those events can
be tested on its own (tests/unit/chat/test_sequencer.py).

Per chat the sequencer keeps the last `seq` written; the chats it keeps are the
connection's membership, and a frame of any other chat is dropped.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from parley_chat.realtime import wire


@dataclass(frozen=True, slots=True)
class Fill:
    """Read the log after the chat's last written `seq`, up to `through` (or its end),
    and hand each message to `Sequencer.replayed`. `cause` labels the replay metric."""

    chat_id: uuid.UUID
    cause: str
    through: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one live event, in this order: subscribe to `subscribe`'s chat,
    write the frame when `write`, read the log for `fill`, unsubscribe from `leave`'s."""

    write: bool = False
    fill: Fill | None = None
    subscribe: uuid.UUID | None = None
    leave: uuid.UUID | None = None


DROP = Verdict()
WRITE = Verdict(write=True)


class TypingVerdict(enum.Enum):
    SEND = "send"
    NOT_A_MEMBER = "not a member"
    TOO_SOON = "too soon"


class Sequencer:
    def __init__(
        self, user_id: uuid.UUID, positions: dict[uuid.UUID, int], *, typing_interval: float
    ) -> None:
        self.user_id = user_id
        self._positions = dict(positions)
        """The chats this connection writes frames of, with the last `seq` written."""
        self._typing_interval = typing_interval
        self._typing_at: dict[uuid.UUID, float] = {}
        self._holding = True
        self._early_resume: dict[uuid.UUID, int] | None = None

    def position(self, chat_id: uuid.UUID) -> int | None:
        """The last `seq` written of the chat; None when the connection is not in it."""
        return self._positions.get(chat_id)

    @property
    def chats(self) -> list[uuid.UUID]:
        return list(self._positions)

    # -- holding live events until the client's resume -----------------------------------

    # A live event written before the client's resume would make the replay either repeat
    # it or go out of order: live events wait until the client's first frame (or a grace
    # period, or a half-full queue), and a resume sent as that first frame is taken
    # before every live event that queued up meanwhile.

    @property
    def holding(self) -> bool:
        return self._holding

    def take_early(self, cursors: dict[uuid.UUID, int] | None) -> bool:
        """A client frame arrived (`cursors` when it is a resume). True when the resume is
        taken ahead of the queue, to be handed back by `release`."""
        if not self._holding or self._early_resume is not None or cursors is None:
            return False
        self._early_resume = cursors
        return True

    def release(self) -> dict[uuid.UUID, int] | None:
        """Stop holding; the resume taken early, if any, is to be replayed first."""
        self._holding = False
        early, self._early_resume = self._early_resume, None
        return early

    # -- live events -----------------------------------------------------------------------

    def live(self, header: wire.Header, *, crowded: bool = False) -> Verdict:
        """What to do with a live event; `crowded` when the queue is half full."""
        chat_id = header.chat_id
        last = self._positions.get(chat_id)
        mine = header.user_id == self.user_id
        if header.kind == "member.joined" and mine:
            if last is not None:
                return DROP  # the copy from the other channel
            self._positions[chat_id] = header.last_seq
            # Messages sent between joining and subscribing are read from the log.
            return Verdict(write=True, fill=Fill(chat_id, "join"), subscribe=chat_id)
        if last is None:
            return DROP  # not (or no longer) a member here
        if header.kind == "message":
            if header.seq <= last:
                return DROP  # already written
            if header.seq > last + 1:
                return Verdict(fill=Fill(chat_id, "gap", through=header.seq))
            self._positions[chat_id] = header.seq
            return WRITE
        if header.kind == "message.updated":
            if header.seq > last:
                # The log holds the message as edited; reading it closes the gap too.
                return Verdict(fill=Fill(chat_id, "gap", through=header.seq))
            return WRITE
        if header.kind == "reaction":
            # Not a message: it never moves the position. For a message not written yet,
            # reading the log brings the message with its reactions counted.
            if header.seq > last:
                return Verdict(fill=Fill(chat_id, "gap", through=header.seq))
            return WRITE
        if header.kind == "member.joined":
            return WRITE
        if header.kind == "member.left":
            if mine:
                self.leave(chat_id)
                return Verdict(write=True, leave=chat_id)
            return WRITE
        if header.kind == "typing" and not mine and not crowded:
            return WRITE  # ephemeral: dropped first when the client falls behind
        return DROP

    # -- reading the log -------------------------------------------------------------------

    def replayed(self, chat_id: uuid.UUID, seq: int) -> bool:
        """A message read back from the log for a `Fill`: True to write it."""
        last = self._positions.get(chat_id)
        if last is None or seq <= last:
            return False
        self._positions[chat_id] = seq
        return True

    def filled(self, fill: Fill, *, has_more: bool) -> bool:
        """After a page of `fill`: True when it is done."""
        last = self._positions.get(fill.chat_id)
        if last is None or not has_more:
            return True
        return fill.through is not None and last >= fill.through

    def resume(self, cursors: dict[uuid.UUID, int]) -> list[Fill]:
        """The client's resume: every message after each cursor, in `seq` order, then live
        ones (docs/api.md). Cursors of chats it is not in say nothing, not even that
        the chat exists."""
        fills = []
        for chat_id, cursor in cursors.items():
            position = self._positions.get(chat_id)
            if position is None:
                continue
            self._positions[chat_id] = cursor
            if cursor < position:
                fills.append(Fill(chat_id, "resume", through=position))
        return fills

    # -- membership from the database ------------------------------------------------------

    def leave(self, chat_id: uuid.UUID) -> None:
        self._positions.pop(chat_id, None)

    def left_chats(self, latest: dict[uuid.UUID, int]) -> list[uuid.UUID]:
        """Drop every chat the user is no longer in (`latest`: the database's chats with
        their last `seq`); the ones dropped, to unsubscribe from."""
        gone = [chat_id for chat_id in self._positions if chat_id not in latest]
        for chat_id in gone:
            self.leave(chat_id)
        return gone

    def resync(self, latest: dict[uuid.UUID, int]) -> tuple[list[uuid.UUID], list[Fill]]:
        """The broker lost events: drop the chats left, and catch up every chat the log
        is ahead in."""
        gone = self.left_chats(latest)
        fills = [
            Fill(chat_id, "resync")
            for chat_id, position in self._positions.items()
            if latest.get(chat_id, 0) > position
        ]
        return gone, fills

    # -- the client's typing -----------------------------------------------------------------

    def typing(self, chat_id: uuid.UUID, now: float) -> TypingVerdict:
        """Relayed at most once per chat per interval (`now`: a monotonic clock)."""
        if chat_id not in self._positions:
            return TypingVerdict.NOT_A_MEMBER
        if now - self._typing_at.get(chat_id, float("-inf")) < self._typing_interval:
            return TypingVerdict.TOO_SOON
        self._typing_at[chat_id] = now
        return TypingVerdict.SEND
