"""Reactions: the part of `ChatService` that adds and removes one user's emoji on a
message (docs/api.md "Threads, reactions, mentions").

Both are idempotent (a repeat changes nothing and announces nothing). Each runs with the
message's row locked (`storage.reactions.lock_live_message`), so a count is exact under
any race: the `count` in the `reaction` frame is the count right after that change, and
the 50-emoji limit cannot be overrun by two new emoji at once. A deleted message takes
no reactions and loses the ones it had.

What an emoji may be is decided by the `emoji` package's copy of Unicode's emoji list
(RGI sequences: ZWJ sequences, skin tones, flags, keycaps): tracking that list by hand
is a job Unicode does every year. A form without its variation selector (U+2764 for
U+2764 U+FE0F) is stored as the fully-qualified one, so both count as one reaction.
A shortcode (`:party_parrot:`) is taken as it is, for a tenant's own emoji.
"""

from __future__ import annotations

import re
import uuid
from typing import Literal

import emoji as unicode_emoji

from parley_chat.domain import errors, events, limits
from parley_chat.domain.base import ServiceBase
from parley_chat.domain.views import Caller
from parley_chat.storage import queries, reactions
from parley_core.db import utcnow
from parley_core.errors import InvalidField

MAX_KINDS = 50
"""docs/api.md: at most 50 different emoji per message."""
_SHORTCODE = re.compile(r":[a-z0-9_+-]{1,30}:")
_MAX_CHARS = 32
"""Longer than the longest emoji sequence (10 code points) and the longest shortcode."""
_COMPONENT = unicode_emoji.STATUS["component"]
_FULLY_QUALIFIED = unicode_emoji.STATUS["fully_qualified"]


def parse_emoji(text: str) -> str:
    """The reaction `text` names, as stored; 422 naming `emoji` when it names none."""
    if _SHORTCODE.fullmatch(text):
        return text
    data = unicode_emoji.EMOJI_DATA.get(text) if len(text) <= _MAX_CHARS else None
    if data is None or data["status"] == _COMPONENT:
        raise InvalidField(
            "emoji",
            "not one emoji (a Unicode emoji sequence) or a shortcode like :thumbs_up:",
            source="path",
        )
    if data["status"] != _FULLY_QUALIFIED:
        qualified = unicode_emoji.emojize(unicode_emoji.demojize(text))
        found = unicode_emoji.EMOJI_DATA.get(qualified)
        if found is not None and found["status"] == _FULLY_QUALIFIED:
            return qualified
    return text


class Reactions(ServiceBase):
    async def react(
        self, caller: Caller, chat_id: uuid.UUID, seq: int, emoji: str, *, add: bool
    ) -> None:
        """Add (or remove) the caller's `emoji` on the message; idempotent."""
        chosen = parse_emoji(emoji)
        await self.action_limits.spend(
            limits.REACTIONS, tenant=caller.tenant, user_id=caller.user_id
        )
        tenant = caller.tenant
        async with self.sessions() as session, session.begin():
            if await queries.member(session, chat_id, caller.user_id, tenant=tenant) is None:
                raise errors.ChatNotFound()
            if not await reactions.lock_live_message(session, chat_id, seq, tenant=tenant):
                raise errors.MessageNotFound()
            if add:
                new_kind = await reactions.count(session, chat_id, seq, chosen, tenant=tenant) == 0
                if new_kind and await reactions.kinds(session, chat_id, seq, tenant=tenant) >= (
                    MAX_KINDS
                ):
                    raise InvalidField(
                        "emoji",
                        f"a message holds at most {MAX_KINDS} different emoji",
                        source="path",
                    )
                changed = await reactions.add(
                    session, chat_id, seq, chosen, caller.user_id, tenant=tenant, now=utcnow()
                )
            else:
                changed = await reactions.remove(
                    session, chat_id, seq, chosen, caller.user_id, tenant=tenant
                )
            count = await reactions.count(session, chat_id, seq, chosen, tenant=tenant)
            op: Literal["add", "remove"] = "add" if add else "remove"
            reacted = events.ReactionEvent(
                chat_id, seq, chosen, caller.user_id, op, count, tenant=tenant
            )
            if changed:
                await self._record(session, reacted, tenant=tenant, at=utcnow())
        if changed:
            await self.publisher.publish(reacted)
