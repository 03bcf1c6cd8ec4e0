"""The chat service's operations, the one entry point the API and the stream call. Each
operation is one or two short transactions and hands back views (`domain.views`), never
rows; the API layer only translates.

The operations live with their concern: `chats` (opening and listing), `members`,
`messages` (the log), `threads`, `reactions`, `search`; what they share is in `base`.
"""

from __future__ import annotations

import logging
import uuid

from parley_chat.domain import limits
from parley_chat.domain.chats import Chats
from parley_chat.domain.members import Members
from parley_chat.domain.messages import Messages
from parley_chat.domain.reactions import Reactions
from parley_chat.domain.search import Search
from parley_chat.domain.threads import Threads
from parley_chat.domain.views import Caller
from parley_chat.storage import attachments as attachment_rows
from parley_chat.storage import queries

__all__ = ["Caller", "ChatService"]

logger = logging.getLogger(__name__)


class ChatService(Chats, Members, Messages, Threads, Reactions, Search):
    # -- the stream ---------------------------------------------------------------------

    async def count_typing(self, caller: Caller) -> None:
        """Count one typing frame of the caller's; past the limit, `errors.LimitReached`."""
        await self.action_limits.spend(limits.TYPING, tenant=caller.tenant, user_id=caller.user_id)

    async def positions(self, caller: Caller) -> dict[uuid.UUID, int]:
        """Each chat the caller belongs to, with its last `seq`: where a stream starts."""
        async with self.sessions() as session:
            return await queries.last_seqs(session, caller.user_id, tenant=caller.tenant)

    # -- tenants -------------------------------------------------------------------------

    async def purge_tenant(self, tenant: str) -> None:
        """docs/api.md: every chat, member and message of the tenant goes; idempotent."""
        async with self.sessions() as session, session.begin():
            await queries.purge_tenant(session, tenant=tenant)
            # Its files go in the next sweep (domain.attachments), the rows with them.
            await attachment_rows.doom_tenant(session, tenant=tenant)
        logger.info("tenant purged", extra={"tenant": tenant})
