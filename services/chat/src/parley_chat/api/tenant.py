"""The tenant backend's routes that chat serves (docs/api.md "Tenant backends"): the
event feed. The caller is a server key (`server_key`, resolved by auth's introspection);
a user's access token is refused with 401, as every route under `/v1/tenant` does.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from parley_chat.domain import feed
from parley_core import serverkeys, web
from parley_core.errors import InvalidField

# Taken as text and checked here (routes.py says why): a value out of range is 422.
Limit = Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,10}$")]
Wait = Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,5}(\.[0-9]{1,3})?$")]
After = Annotated[str | None, QueryParameter(max_length=200)]
"""The opaque cursor of an earlier answer; what it holds is the domain's business."""


class EventOut(msgspec.Struct):
    id: uuid.UUID
    cursor: str
    """Read on after this event with `?after=`."""
    type: str
    tenant: str
    chat_id: uuid.UUID
    occurred_at: datetime
    data: dict[str, Any]
    """The stream frame of this type, as the stream sends it; a `message` event's also
    carries `offline_member_ids`, the members with no open stream as it was read."""

    @classmethod
    def of(cls, event: feed.EventView) -> EventOut:
        return cls(
            id=event.id,
            cursor=event.cursor,
            type=event.type,
            tenant=event.tenant,
            chat_id=event.chat_id,
            occurred_at=event.occurred_at,
            data=event.data,
        )


class EventsOut(msgspec.Struct):
    events: list[EventOut]
    cursor: str
    """Where the next read starts (`?after=`): after the last event here."""


class TenantFeedController(Controller):
    path = "/v1/tenant"
    tags = ("tenant",)

    @get("/events", responses=web.errors(400, 401, 410, 422, 503))
    async def events(
        self,
        server_key: NamedDependency[serverkeys.ServerKeyIdentity],
        feed_service: NamedDependency[feed.Feed],
        after: After = None,
        limit: Limit = None,
        wait: Wait = None,
    ) -> EventsOut:
        """The tenant's events after `after` (from the oldest kept without it), in commit
        order; `wait` (up to 30 s) long-polls while there is none."""
        count = int(limit) if limit is not None else feed.DEFAULT_LIMIT
        if not 1 <= count <= feed.MAX_LIMIT:
            raise InvalidField("limit", f"must be from 1 to {feed.MAX_LIMIT}", source="query")
        page = await feed_service.read(
            tenant=server_key.tenant,
            after=after,
            limit=count,
            wait=float(wait) if wait is not None else 0.0,
        )
        return EventsOut([EventOut.of(event) for event in page.events], page.cursor)
