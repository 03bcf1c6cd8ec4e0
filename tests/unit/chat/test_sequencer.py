"""The stream's sequencing rules (parley_chat/realtime/sequencer.py), without a socket: the
examples name each rule, and the state machine drives any interleaving of commits, live
events (delivered late, twice or never), resumes, resyncs and membership changes, checking
that the client sees each `seq` once and in order, and at the end all of them."""

from __future__ import annotations

import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from parley_chat.realtime import wire
from parley_chat.realtime.sequencer import DROP, WRITE, Fill, Sequencer, TypingVerdict, Verdict

ME = uuid.UUID(int=1)
OTHER = uuid.UUID(int=2)
CHAT = uuid.UUID(int=10)
ELSEWHERE = uuid.UUID(int=11)


def message(chat_id: uuid.UUID, seq: int) -> wire.Header:
    return wire.Header("message", chat_id, seq=seq)


def edited(chat_id: uuid.UUID, seq: int) -> wire.Header:
    return wire.Header("message.updated", chat_id, seq=seq)


def reaction(chat_id: uuid.UUID, seq: int) -> wire.Header:
    return wire.Header("reaction", chat_id, seq=seq, user_id=OTHER)


def joined(chat_id: uuid.UUID, user_id: uuid.UUID, last_seq: int) -> wire.Header:
    return wire.Header("member.joined", chat_id, user_id=user_id, last_seq=last_seq)


def left(chat_id: uuid.UUID, user_id: uuid.UUID) -> wire.Header:
    return wire.Header("member.left", chat_id, user_id=user_id)


def typing(chat_id: uuid.UUID, user_id: uuid.UUID) -> wire.Header:
    return wire.Header("typing", chat_id, user_id=user_id)


def sequencer(positions: dict[uuid.UUID, int] | None = None) -> Sequencer:
    return Sequencer(ME, {CHAT: 5} if positions is None else positions, typing_interval=2.0)


# -- live messages --------------------------------------------------------------------------


def test_the_next_message_is_written_and_becomes_the_position() -> None:
    seq = sequencer()
    assert seq.live(message(CHAT, 6)) == WRITE
    assert seq.position(CHAT) == 6


def test_a_message_at_or_below_the_position_is_dropped_as_already_written() -> None:
    seq = sequencer()
    assert seq.live(message(CHAT, 5)) == DROP
    assert seq.live(message(CHAT, 3)) == DROP
    assert seq.position(CHAT) == 5


def test_a_message_that_skips_ahead_fills_the_gap_from_the_log_instead() -> None:
    seq = sequencer()
    assert seq.live(message(CHAT, 9)) == Verdict(fill=Fill(CHAT, "gap", through=9))
    assert seq.position(CHAT) == 5


def test_a_message_of_a_chat_outside_the_membership_is_dropped() -> None:
    assert sequencer().live(message(ELSEWHERE, 1)) == DROP


def test_an_edit_of_a_written_message_is_written_without_moving_the_position() -> None:
    seq = sequencer()
    assert seq.live(edited(CHAT, 4)) == WRITE
    assert seq.position(CHAT) == 5


def test_an_edit_past_the_position_reads_the_log_which_holds_the_edited_text() -> None:
    assert sequencer().live(edited(CHAT, 7)) == Verdict(fill=Fill(CHAT, "gap", through=7))


def test_a_reaction_to_a_written_message_is_written_without_moving_the_position() -> None:
    seq = sequencer()
    assert seq.live(reaction(CHAT, 5)) == WRITE
    assert seq.live(reaction(CHAT, 1)) == WRITE
    assert seq.position(CHAT) == 5


def test_a_reaction_past_the_position_reads_the_log_whose_message_counts_it() -> None:
    seq = sequencer()
    assert seq.live(reaction(CHAT, 7)) == Verdict(fill=Fill(CHAT, "gap", through=7))
    assert seq.position(CHAT) == 5


def test_a_reaction_in_a_chat_outside_the_membership_is_dropped() -> None:
    assert sequencer().live(reaction(ELSEWHERE, 1)) == DROP


# -- membership -----------------------------------------------------------------------------


def test_joining_subscribes_writes_the_join_and_catches_up_from_it() -> None:
    seq = sequencer()
    verdict = seq.live(joined(ELSEWHERE, ME, last_seq=3))
    assert verdict == Verdict(write=True, fill=Fill(ELSEWHERE, "join"), subscribe=ELSEWHERE)
    assert seq.position(ELSEWHERE) == 3


def test_the_second_copy_of_ones_own_join_is_dropped() -> None:
    seq = sequencer()
    seq.live(joined(ELSEWHERE, ME, last_seq=3))
    assert seq.live(joined(ELSEWHERE, ME, last_seq=3)) == DROP


def test_someone_else_joining_is_written_only_in_a_chat_one_is_in() -> None:
    seq = sequencer()
    assert seq.live(joined(CHAT, OTHER, last_seq=5)) == WRITE
    assert seq.live(joined(ELSEWHERE, OTHER, last_seq=5)) == DROP


def test_leaving_writes_the_leave_then_unsubscribes_and_drops_what_follows() -> None:
    seq = sequencer()
    assert seq.live(left(CHAT, ME)) == Verdict(write=True, leave=CHAT)
    assert seq.position(CHAT) is None
    assert seq.live(message(CHAT, 6)) == DROP


def test_someone_else_leaving_is_written_and_changes_nothing_here() -> None:
    seq = sequencer()
    assert seq.live(left(CHAT, OTHER)) == WRITE
    assert seq.position(CHAT) == 5


def test_a_recheck_drops_every_chat_the_database_no_longer_lists() -> None:
    seq = sequencer({CHAT: 5, ELSEWHERE: 2})
    assert seq.left_chats({CHAT: 8}) == [ELSEWHERE]
    assert seq.chats == [CHAT]


def test_a_resync_drops_left_chats_and_catches_up_the_ones_the_log_is_ahead_in() -> None:
    seq = sequencer({CHAT: 5, ELSEWHERE: 2})
    assert seq.resync({CHAT: 8}) == ([ELSEWHERE], [Fill(CHAT, "resync")])
    assert seq.resync({CHAT: 5}) == ([], [])


# -- typing ---------------------------------------------------------------------------------


def test_typing_of_others_is_written_unless_the_client_falls_behind() -> None:
    seq = sequencer()
    assert seq.live(typing(CHAT, OTHER)) == WRITE
    assert seq.live(typing(CHAT, OTHER), crowded=True) == DROP
    assert seq.live(typing(CHAT, ME)) == DROP
    assert seq.live(typing(ELSEWHERE, OTHER)) == DROP


def test_the_clients_typing_goes_out_once_per_interval_and_only_in_its_chats() -> None:
    seq = sequencer()
    assert seq.typing(ELSEWHERE, now=0.0) is TypingVerdict.NOT_A_MEMBER
    assert seq.typing(CHAT, now=10.0) is TypingVerdict.SEND
    assert seq.typing(CHAT, now=11.0) is TypingVerdict.TOO_SOON
    assert seq.typing(CHAT, now=12.0) is TypingVerdict.SEND


# -- reading the log ------------------------------------------------------------------------


def test_a_fill_writes_what_is_past_the_position_and_ends_at_its_bound() -> None:
    seq = sequencer()
    fill = Fill(CHAT, "gap", through=7)
    assert [seq.replayed(CHAT, n) for n in (5, 6, 7)] == [False, True, True]
    assert seq.filled(fill, has_more=True)


def test_a_fill_goes_on_while_the_log_has_more_and_the_bound_is_not_reached() -> None:
    seq = sequencer()
    seq.replayed(CHAT, 6)
    assert not seq.filled(Fill(CHAT, "gap", through=9), has_more=True)
    assert not seq.filled(Fill(CHAT, "resync"), has_more=True)
    assert seq.filled(Fill(CHAT, "resync"), has_more=False)


def test_a_fill_of_a_chat_left_meanwhile_ends_and_writes_nothing() -> None:
    seq = sequencer()
    seq.leave(CHAT)
    assert not seq.replayed(CHAT, 6)
    assert seq.filled(Fill(CHAT, "gap", through=9), has_more=True)


def test_a_resume_behind_the_position_replays_up_to_it() -> None:
    seq = sequencer()
    assert seq.resume({CHAT: 2}) == [Fill(CHAT, "resume", through=5)]
    assert seq.position(CHAT) == 2


def test_a_resume_at_or_past_the_position_replays_nothing_and_moves_it() -> None:
    seq = sequencer()
    assert seq.resume({CHAT: 8}) == []
    assert seq.position(CHAT) == 8


def test_a_resume_says_nothing_of_chats_the_client_is_not_in() -> None:
    seq = sequencer()
    assert seq.resume({ELSEWHERE: 0}) == []
    assert seq.position(ELSEWHERE) is None


# -- holding live events until the resume ---------------------------------------------------


def test_a_resume_sent_first_is_taken_ahead_and_handed_back_on_release() -> None:
    seq = sequencer()
    assert seq.holding
    assert seq.take_early({CHAT: 1})
    assert seq.release() == {CHAT: 1}
    assert not seq.holding


def test_only_the_first_resume_is_taken_ahead() -> None:
    seq = sequencer()
    assert seq.take_early({CHAT: 1})
    assert not seq.take_early({CHAT: 2})


def test_a_first_frame_that_is_no_resume_leaves_nothing_to_replay() -> None:
    seq = sequencer()
    assert not seq.take_early(None)
    assert seq.release() is None


def test_after_release_a_resume_queues_behind_live_events() -> None:
    seq = sequencer()
    seq.release()
    assert not seq.take_early({CHAT: 1})


# -- every interleaving ---------------------------------------------------------------------

CHATS = [CHAT, ELSEWHERE]
PAGE = 2


class Stream(RuleBasedStateMachine):
    """The log and the membership are the database's; `pending` is what the broker has
    yet to deliver; `seen` is the client's last `seq` per chat."""

    def __init__(self) -> None:
        super().__init__()
        self.log = {CHAT: 3, ELSEWHERE: 0}
        self.members = {CHAT}
        self.pending: list[wire.Header] = []
        self.seq = Sequencer(ME, {CHAT: 3}, typing_interval=2.0)
        self.seen = {CHAT: 3}
        self.queued: list[dict[uuid.UUID, int]] = []
        """Resumes sent while holding but after the first: they queue like any frame."""

    # -- what the client sees

    def see(self, chat_id: uuid.UUID, seq: int) -> None:
        assert seq == self.seen[chat_id] + 1, f"{chat_id}: {seq} after {self.seen[chat_id]}"
        self.seen[chat_id] = seq

    def fill(self, fill: Fill) -> None:
        """What Connection._catch_up does, with the model's log as the history route."""
        while (after := self.seq.position(fill.chat_id)) is not None:
            if fill.chat_id not in self.members:
                self.seq.leave(fill.chat_id)  # the history route: not found
                return
            page = list(range(after + 1, min(after + PAGE, self.log[fill.chat_id]) + 1))
            for seq in page:
                if self.seq.replayed(fill.chat_id, seq):
                    self.see(fill.chat_id, seq)
            has_more = after + PAGE < self.log[fill.chat_id]
            if self.seq.filled(fill, has_more=has_more):
                return

    # -- the database and the broker

    @rule(chat_id=st.sampled_from(CHATS))
    def commit(self, chat_id: uuid.UUID) -> None:
        self.log[chat_id] += 1
        self.pending.append(message(chat_id, self.log[chat_id]))

    @precondition(lambda self: self.log[CHAT] > 0)
    @rule(data=st.data())
    def edit(self, data: st.DataObject) -> None:
        self.pending.append(edited(CHAT, data.draw(st.integers(1, self.log[CHAT]))))

    @rule(chat_id=st.sampled_from(CHATS))
    def someone_types(self, chat_id: uuid.UUID) -> None:
        self.pending.append(typing(chat_id, OTHER))

    @precondition(lambda self: ELSEWHERE not in self.members)
    @rule()
    def join(self) -> None:
        self.members.add(ELSEWHERE)
        # Membership events go out on the chat's channel and the member's own.
        event = joined(ELSEWHERE, ME, last_seq=self.log[ELSEWHERE])
        self.pending += [event, event]

    @precondition(lambda self: ELSEWHERE in self.members)
    @rule()
    def leave(self) -> None:
        self.members.discard(ELSEWHERE)
        self.pending += [left(ELSEWHERE, ME), left(ELSEWHERE, ME)]

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def lose(self, data: st.DataObject) -> None:
        self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1)))

    @precondition(lambda self: self.pending)
    @rule(data=st.data())
    def repeat(self, data: st.DataObject) -> None:
        self.pending.append(data.draw(st.sampled_from(self.pending)))

    # -- the connection

    @precondition(lambda self: self.pending and not self.seq.holding)
    @rule(data=st.data(), crowded=st.booleans())
    def deliver(self, data: st.DataObject, crowded: bool) -> None:
        header = self.pending.pop(data.draw(st.integers(0, len(self.pending) - 1)))
        verdict = self.seq.live(header, crowded=crowded)
        if verdict.write:
            if header.kind == "message":
                self.see(header.chat_id, header.seq)
            elif header.kind == "message.updated":
                assert header.seq <= self.seen[header.chat_id]
            elif header.kind == "member.joined" and header.user_id == ME:
                self.seen[header.chat_id] = header.last_seq  # older ones: the history
        if verdict.fill is not None:
            self.fill(verdict.fill)

    @precondition(lambda self: self.seq.holding)
    @rule(resume=st.booleans(), data=st.data())
    def frame_while_holding(self, resume: bool, data: st.DataObject) -> None:
        cursors = self.cursors(data) if resume else None
        if not self.seq.take_early(cursors) and cursors is not None:
            self.queued.append(cursors)

    @precondition(lambda self: self.seq.holding)
    @rule()
    def release(self) -> None:
        early = self.seq.release()
        for cursors in [early] if early is not None else []:
            self.resume_from(cursors)
        for cursors in self.queued:
            self.resume_from(cursors)

    @precondition(lambda self: not self.seq.holding)
    @rule(data=st.data())
    def resume(self, data: st.DataObject) -> None:
        self.resume_from(self.cursors(data))

    def cursors(self, data: st.DataObject) -> dict[uuid.UUID, int]:
        # A client may know more than it was sent here (it read the history route), or
        # less (it lost what it had): from its cursor on, it expects every `seq` once.
        return {chat_id: data.draw(st.integers(0, self.log[chat_id])) for chat_id in self.seen}

    def resume_from(self, cursors: dict[uuid.UUID, int]) -> None:
        written = {chat_id: self.seq.position(chat_id) for chat_id in cursors}
        self.seen.update(cursors)
        for fill in self.seq.resume(cursors):
            self.fill(fill)
        # What was written before the resume is replayed before anything live.
        for chat_id, position in written.items():
            if position is not None and self.seq.position(chat_id) is not None:
                assert self.seen[chat_id] >= position

    # Like live events, a recheck and a resync wait in the queue while holding.

    @precondition(lambda self: not self.seq.holding)
    @rule()
    def recheck(self) -> None:
        self.seq.left_chats({chat_id: self.log[chat_id] for chat_id in self.members})

    @precondition(lambda self: not self.seq.holding)
    @rule()
    def resync(self) -> None:
        _, fills = self.seq.resync({chat_id: self.log[chat_id] for chat_id in self.members})
        for fill in fills:
            self.fill(fill)

    @invariant()
    def the_client_holds_what_the_sequencer_wrote(self) -> None:
        for chat_id in self.seq.chats:
            assert self.seq.position(chat_id) == self.seen[chat_id]

    def teardown(self) -> None:
        # Whatever was lost, a resync brings every chat the client is in up to the log.
        if self.seq.holding:
            self.release()
        self.resync()
        for chat_id in self.seq.chats:
            assert chat_id in self.members
            assert self.seen[chat_id] == self.log[chat_id]


Stream.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_any_interleaving_writes_each_seq_once_in_order_and_all_of_them = Stream.TestCase
