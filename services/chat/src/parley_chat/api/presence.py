"""`PUT /v1/presence` and `GET /v1/presence` (docs/api.md "Presence"). The stream carries
the `presence` frames (realtime/presence.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from parley_chat.domain import presence
from parley_chat.domain.service import Caller
from parley_core import views, web
from parley_core.errors import InvalidField


class StatusBody(msgspec.Struct):
    status: Literal["online", "away", "dnd"]


class PresenceOut(views.Out):
    user_id: uuid.UUID
    status: str
    last_seen_at: datetime | None


class PresenceListOut(msgspec.Struct):
    presence: list[PresenceOut]


def _user_ids(values: list[str] | None) -> list[uuid.UUID]:
    if not values:
        raise InvalidField("user_id", "give at least one user_id", source="query")
    if len(values) > presence.MAX_IDS:
        raise InvalidField("user_id", f"at most {presence.MAX_IDS} user_id values", source="query")
    try:
        return [uuid.UUID(value) for value in values]
    except ValueError:
        raise InvalidField("user_id", "each user_id must be a UUID", source="query") from None


class PresenceController(Controller):
    path = "/v1/presence"
    tags = ("presence",)

    @put("/", status_code=HTTP_204_NO_CONTENT, responses=web.errors(400, 401, 403, 413, 422, 503))
    async def set_status(
        self,
        data: JSONBody[StatusBody],
        caller: NamedDependency[Caller],
        presence_service: NamedDependency[presence.PresenceService],
    ) -> None:
        await presence_service.choose(caller, data.status)

    @get("/", responses=web.errors(400, 401, 422, 503))
    async def get_presence(
        self,
        caller: NamedDependency[Caller],
        presence_service: NamedDependency[presence.PresenceService],
        user_id: Annotated[list[str] | None, QueryParameter()] = None,
    ) -> PresenceListOut:
        found = await presence_service.presence_of(caller, _user_ids(user_id))
        return PresenceListOut([PresenceOut.of(view) for view in found])
