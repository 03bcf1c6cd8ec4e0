"""Route handlers for every chat path of docs/api.md, and chat's side of the Internal API."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from parley_chat.api import schemas
from parley_chat.domain.service import Caller, ChatService
from parley_core import names, web
from parley_core.errors import InvalidField

SlugPath = Annotated[str, PathParameter(pattern=names.SLUG_PATTERN)]
UsernamePath = Annotated[str, PathParameter(pattern=names.USERNAME_PATTERN)]
# Litestar converts parameters leniently ("5.0" and "null" would pass as numbers), so the
# cursors and the limit are taken as digit strings and converted here, strictly.
Digits = Annotated[str | None, QueryParameter(pattern=r"^[0-9]{1,10}$")]
Cursor = Annotated[str | None, QueryParameter(pattern=r"^[A-Za-z0-9_-]{1,200}$")]
"""The chat list's opaque cursor (base64url); what it holds is the domain's business."""
ChatIdPath = Annotated[uuid.UUID, PathParameter()]
SeqPath = Annotated[int, PathParameter(ge=1, le=schemas.MAX_SEQ)]
EmojiPath = Annotated[
    str,
    PathParameter(
        description="One Unicode emoji sequence or a shortcode `:name:`, URL-encoded "
        "(checked by the domain: parley_chat.domain.reactions)"
    ),
]


def _in_range(name: str, value: str | None, low: int, high: int) -> int | None:
    if value is None:
        return None
    number = int(value)
    if not low <= number <= high:
        raise InvalidField(name, f"must be from {low} to {high}", source="query")
    return number


def _created(created: bool) -> int:
    # docs/api.md: a repeat (same direct pair, same client_msg_id) is 200, not 201.
    return HTTP_201_CREATED if created else HTTP_200_OK


class ChatsController(Controller):
    path = "/v1/chats"
    tags = ("chats",)

    @post(
        "/",
        responses={
            200: web.also(schemas.ChatOut, "The direct chat that already existed"),
            **web.errors(400, 401, 403, 404, 413, 422, 429, 503),
        },
    )
    async def create_chat(
        self,
        data: JSONBody[schemas.CreateChatBody],
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> Response[schemas.ChatOut]:
        view, created = await chats.create_chat(
            caller, kind=data.kind, title=data.title, usernames=data.members
        )
        return Response(schemas.ChatOut.of(view), status_code=_created(created))

    @get("/", responses=web.errors(400, 401, 422, 503))
    async def list_chats(
        self,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
        limit: Digits = None,
        cursor: Cursor = None,
    ) -> schemas.ChatsOut:
        page = await chats.list_chats(
            caller, limit=_in_range("limit", limit, 1, 200), cursor=cursor
        )
        return schemas.ChatsOut([schemas.ChatOut.of(view) for view in page.chats], page.next_cursor)

    @get("/{chat_id:uuid}", responses=web.errors(400, 401, 404, 422, 503))
    async def get_chat(
        self,
        chat_id: ChatIdPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> schemas.ChatOut:
        return schemas.ChatOut.of(await chats.get_chat(caller, chat_id))

    @post(
        "/{chat_id:uuid}/members",
        status_code=HTTP_201_CREATED,
        responses=web.errors(400, 401, 403, 404, 409, 413, 422, 429, 503),
    )
    async def add_member(
        self,
        chat_id: ChatIdPath,
        data: JSONBody[schemas.AddMemberBody],
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> schemas.MemberOut:
        return schemas.MemberOut.of(await chats.add_member(caller, chat_id, data.username))

    @delete(
        "/{chat_id:uuid}/members/{username:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 403, 404, 422, 503),
    )
    async def remove_member(
        self,
        chat_id: ChatIdPath,
        username: UsernamePath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> None:
        await chats.remove_member(caller, chat_id, username.lower())

    @post(
        "/{chat_id:uuid}/messages",
        responses={
            200: web.also(schemas.MessageOut, "The message a repeated `client_msg_id` stored"),
            **web.errors(400, 401, 403, 404, 413, 422, 429, 503),
        },
    )
    async def send(
        self,
        chat_id: ChatIdPath,
        data: JSONBody[schemas.SendBody],
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> Response[schemas.MessageOut]:
        message, created = await chats.send(
            caller,
            chat_id,
            body=data.body,
            client_msg_id=data.client_msg_id,
            reply_to=data.reply_to,
            attachments=data.attachments,
        )
        return Response(schemas.MessageOut.of(message), status_code=_created(created))

    @get("/{chat_id:uuid}/messages", responses=web.errors(400, 401, 404, 422, 503))
    async def history(
        self,
        chat_id: ChatIdPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
        after_seq: Digits = None,
        before_seq: Digits = None,
        limit: Digits = None,
    ) -> schemas.MessagesOut:
        page = await chats.history(
            caller,
            chat_id,
            after_seq=_in_range("after_seq", after_seq, 0, schemas.MAX_SEQ),
            before_seq=_in_range("before_seq", before_seq, 1, schemas.MAX_SEQ),
            limit=_in_range("limit", limit, 1, 200) or 50,
        )
        return schemas.MessagesOut(
            [schemas.MessageOut.of(message) for message in page.messages], page.has_more
        )

    @patch(
        "/{chat_id:uuid}/messages/{seq:int}",
        responses=web.errors(400, 401, 403, 404, 413, 422, 429, 503),
    )
    async def edit(
        self,
        chat_id: ChatIdPath,
        seq: SeqPath,
        data: JSONBody[schemas.EditBody],
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> schemas.MessageOut:
        return schemas.MessageOut.of(await chats.edit(caller, chat_id, seq, body=data.body))

    @delete(
        "/{chat_id:uuid}/messages/{seq:int}",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 403, 404, 422, 429, 503),
    )
    async def delete_message(
        self,
        chat_id: ChatIdPath,
        seq: SeqPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> None:
        await chats.delete_message(caller, chat_id, seq)

    @post(
        "/{chat_id:uuid}/read",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 403, 404, 413, 422, 429, 503),
    )
    async def mark_read(
        self,
        chat_id: ChatIdPath,
        data: JSONBody[schemas.ReadBody],
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> None:
        await chats.mark_read(caller, chat_id, data.seq)

    @get("/{chat_id:uuid}/threads/{seq:int}", responses=web.errors(400, 401, 404, 422, 503))
    async def thread(
        self,
        chat_id: ChatIdPath,
        seq: SeqPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
        after_seq: Digits = None,
        limit: Digits = None,
    ) -> schemas.MessagesOut:
        page = await chats.thread(
            caller,
            chat_id,
            seq,
            after_seq=_in_range("after_seq", after_seq, 0, schemas.MAX_SEQ) or 0,
            limit=_in_range("limit", limit, 1, 200) or 50,
        )
        return schemas.MessagesOut(
            [schemas.MessageOut.of(message) for message in page.messages], page.has_more
        )

    @put(
        "/{chat_id:uuid}/messages/{seq:int}/reactions/{emoji:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 403, 404, 422, 429, 503),
    )
    async def add_reaction(
        self,
        chat_id: ChatIdPath,
        seq: SeqPath,
        emoji: EmojiPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> None:
        await chats.react(caller, chat_id, seq, emoji, add=True)

    @delete(
        "/{chat_id:uuid}/messages/{seq:int}/reactions/{emoji:str}",
        status_code=HTTP_204_NO_CONTENT,
        responses=web.errors(400, 401, 403, 404, 422, 429, 503),
    )
    async def remove_reaction(
        self,
        chat_id: ChatIdPath,
        seq: SeqPath,
        emoji: EmojiPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> None:
        await chats.react(caller, chat_id, seq, emoji, add=False)


class InternalController(Controller):
    """docs/api.md "Internal API": chat's side of a tenant purge."""

    path = "/internal/v1/tenants"
    tags = ("internal",)

    @delete(
        "/{slug:str}", status_code=HTTP_204_NO_CONTENT, responses=web.errors(400, 401, 422, 503)
    )
    async def purge_tenant(self, slug: SlugPath, chats: NamedDependency[ChatService]) -> None:
        await chats.purge_tenant(slug)
