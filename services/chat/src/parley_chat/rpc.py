"""`parley.chat.v1.ChatService` (proto/parley/chat/v1/chat.proto): the REST routes of
`parley_chat.api` and the stream of `parley_chat.realtime` over gRPC.

Each unary method decodes into the REST body (or checks its parameters as the route
checks its path and query), calls the one `ChatService` operation the route calls, and
encodes the REST output (parley_core.rpc). `Subscribe` is a stream `Connection` like any
WebSocket's (realtime/connection.py), on a `SubscribeSocket` that hands the frames to the
call: the request's cursors are its `resume`, so replay, gap fill, ordering and the end
codes are the stream's own (docs/grpc.md "Subscribe").
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import grpc
import msgspec
from google.protobuf import json_format
from litestar.exceptions import WebSocketDisconnect

from parley_chat.api import schemas
from parley_chat.api import search as search_routes
from parley_chat.api import tenant as tenant_routes
from parley_chat.api import webhooks as webhook_routes
from parley_chat.api.presence import PresenceOut, StatusBody
from parley_chat.closes import CloseCode
from parley_chat.domain import access, feed, webhooks
from parley_chat.domain import presence as presence_domain
from parley_chat.domain.directory import Directory
from parley_chat.domain.errors import TenantGone, TenantSuspended
from parley_chat.domain.service import Caller, ChatService
from parley_chat.realtime import connection as stream_connection
from parley_chat.realtime import routes as stream_routes
from parley_core import names, rpc, serverkeys
from parley_core.errors import ApiError, DependencyUnavailable, InvalidField, TooManyRequests
from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc

SERVICE = chat_pb2.DESCRIPTOR.services_by_name["ChatService"].full_name
TENANT_SERVICE = chat_pb2.DESCRIPTOR.services_by_name["TenantEventService"].full_name
READS = frozenset(
    {"ListChats", "GetChat", "ListMessages", "GetThread", "Search", "GetPresence", "Subscribe"}
)
"""Methods a suspended tenant may still call (REST: every GET); the rest are writes."""

_CURSOR = re.compile(r"^[A-Za-z0-9_-]{1,200}$")
"""An opaque page cursor, as the REST routes take it (parley_chat.api.routes.Cursor)."""

NEVER_IDLE_SECONDS = 10 * 365 * 86400.0
"""A Subscribe call sends nothing after its request, so the stream's idle close (4408,
for WebSocket clients that stopped pinging) does not apply: HTTP/2 keepalive does that."""

Context = grpc.aio.ServicerContext[Any, Any]


def _chat_id(value: str, name: str = "chat_id") -> uuid.UUID:
    return _uuid(value, name, "not a chat id")


def _uuid(value: str, name: str, message: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidField(name, message) from None


def _seq(value: int, name: str = "seq") -> int:
    # REST's path parameter: 1 to MAX_SEQ.
    checked = rpc.in_range(name, value, 1, schemas.MAX_SEQ)
    assert checked is not None
    return checked


def _cursor(value: str | None) -> str | None:
    if value is not None and not _CURSOR.match(value):
        raise InvalidField("cursor", "not a cursor")
    return value


def _message(view: object) -> chat_pb2.Message:
    return rpc.encode(schemas.MessageOut.of(view), chat_pb2.Message())


def _chat(view: object) -> chat_pb2.Chat:
    return rpc.encode(schemas.ChatOut.of(view), chat_pb2.Chat())


class ChatServicer(chat_pb2_grpc.ChatServiceServicer):
    def __init__(
        self,
        chats: ChatService,
        presence: presence_domain.PresenceService,
        directory: Directory,
        stream: stream_routes.Stream,
    ) -> None:
        self._chats = chats
        self._presence = presence
        self._directory = directory
        self._stream = stream
        policy = dataclasses.replace(stream.shared.policy, idle_seconds=NEVER_IDLE_SECONDS)
        self._shared = dataclasses.replace(stream.shared, policy=policy)
        self._connections: set[stream_connection.Connection] = set()

    async def _caller(self, *, write: bool) -> Caller:
        credential = stream_routes.credential_of(rpc.claims())
        return await access.admit(self._directory, credential, write=write)

    # -- chats and members ---------------------------------------------------------------

    async def CreateChat(
        self, request: chat_pb2.CreateChatRequest, context: Context
    ) -> chat_pb2.CreateChatResponse:
        body = rpc.decode(request, schemas.CreateChatBody)
        view, created = await self._chats.create_chat(
            await self._caller(write=True), kind=body.kind, title=body.title, usernames=body.members
        )
        return chat_pb2.CreateChatResponse(chat=_chat(view), created=created)

    async def ListChats(
        self, request: chat_pb2.ListChatsRequest, context: Context
    ) -> chat_pb2.ListChatsResponse:
        limit = rpc.in_range("limit", rpc.optional(request, "limit"), 1, 200)
        cursor = _cursor(rpc.optional(request, "cursor"))
        page = await self._chats.list_chats(
            await self._caller(write=False), limit=limit, cursor=cursor
        )
        return rpc.encode(
            schemas.ChatsOut([schemas.ChatOut.of(view) for view in page.chats], page.next_cursor),
            chat_pb2.ListChatsResponse(),
        )

    async def GetChat(
        self, request: chat_pb2.GetChatRequest, context: Context
    ) -> chat_pb2.GetChatResponse:
        chat_id = _chat_id(request.chat_id)
        view = await self._chats.get_chat(await self._caller(write=False), chat_id)
        return chat_pb2.GetChatResponse(chat=_chat(view))

    async def AddMember(
        self, request: chat_pb2.AddMemberRequest, context: Context
    ) -> chat_pb2.AddMemberResponse:
        chat_id = _chat_id(request.chat_id)
        body = rpc.decode(request, schemas.AddMemberBody)
        member = await self._chats.add_member(
            await self._caller(write=True), chat_id, body.username
        )
        return chat_pb2.AddMemberResponse(
            member=rpc.encode(schemas.MemberOut.of(member), chat_pb2.Member())
        )

    async def RemoveMember(
        self, request: chat_pb2.RemoveMemberRequest, context: Context
    ) -> chat_pb2.RemoveMemberResponse:
        chat_id = _chat_id(request.chat_id)
        body = rpc.decode(request, schemas.AddMemberBody)
        await self._chats.remove_member(
            await self._caller(write=True), chat_id, body.username.lower()
        )
        return chat_pb2.RemoveMemberResponse()

    # -- messages ------------------------------------------------------------------------

    async def SendMessage(
        self, request: chat_pb2.SendMessageRequest, context: Context
    ) -> chat_pb2.SendMessageResponse:
        chat_id = _chat_id(request.chat_id)
        body = rpc.decode(request, schemas.SendBody)
        message, created = await self._chats.send(
            await self._caller(write=True),
            chat_id,
            body=body.body,
            client_msg_id=body.client_msg_id,
            reply_to=body.reply_to,
            attachments=body.attachments,
        )
        return chat_pb2.SendMessageResponse(message=_message(message), created=created)

    async def ListMessages(
        self, request: chat_pb2.ListMessagesRequest, context: Context
    ) -> chat_pb2.ListMessagesResponse:
        chat_id = _chat_id(request.chat_id)
        page = await self._chats.history(
            await self._caller(write=False),
            chat_id,
            after_seq=rpc.in_range(
                "after_seq", rpc.optional(request, "after_seq"), 0, schemas.MAX_SEQ
            ),
            before_seq=rpc.in_range(
                "before_seq", rpc.optional(request, "before_seq"), 1, schemas.MAX_SEQ
            ),
            limit=rpc.in_range("limit", rpc.optional(request, "limit"), 1, 200) or 50,
        )
        return chat_pb2.ListMessagesResponse(
            messages=[_message(view) for view in page.messages], has_more=page.has_more
        )

    async def EditMessage(
        self, request: chat_pb2.EditMessageRequest, context: Context
    ) -> chat_pb2.EditMessageResponse:
        chat_id = _chat_id(request.chat_id)
        seq = _seq(request.seq)
        body = rpc.decode(request, schemas.EditBody)
        view = await self._chats.edit(await self._caller(write=True), chat_id, seq, body=body.body)
        return chat_pb2.EditMessageResponse(message=_message(view))

    async def DeleteMessage(
        self, request: chat_pb2.DeleteMessageRequest, context: Context
    ) -> chat_pb2.DeleteMessageResponse:
        chat_id = _chat_id(request.chat_id)
        seq = _seq(request.seq)
        await self._chats.delete_message(await self._caller(write=True), chat_id, seq)
        return chat_pb2.DeleteMessageResponse()

    async def MarkRead(
        self, request: chat_pb2.MarkReadRequest, context: Context
    ) -> chat_pb2.MarkReadResponse:
        chat_id = _chat_id(request.chat_id)
        body = rpc.decode(request, schemas.ReadBody)
        await self._chats.mark_read(await self._caller(write=True), chat_id, body.seq)
        return chat_pb2.MarkReadResponse()

    async def GetThread(
        self, request: chat_pb2.GetThreadRequest, context: Context
    ) -> chat_pb2.GetThreadResponse:
        chat_id = _chat_id(request.chat_id)
        seq = _seq(request.seq)
        page = await self._chats.thread(
            await self._caller(write=False),
            chat_id,
            seq,
            after_seq=rpc.in_range(
                "after_seq", rpc.optional(request, "after_seq"), 0, schemas.MAX_SEQ
            )
            or 0,
            limit=rpc.in_range("limit", rpc.optional(request, "limit"), 1, 200) or 50,
        )
        return chat_pb2.GetThreadResponse(
            messages=[_message(view) for view in page.messages], has_more=page.has_more
        )

    async def AddReaction(
        self, request: chat_pb2.AddReactionRequest, context: Context
    ) -> chat_pb2.AddReactionResponse:
        chat_id = _chat_id(request.chat_id)
        seq = _seq(request.seq)
        await self._chats.react(
            await self._caller(write=True), chat_id, seq, request.emoji, add=True
        )
        return chat_pb2.AddReactionResponse()

    async def RemoveReaction(
        self, request: chat_pb2.RemoveReactionRequest, context: Context
    ) -> chat_pb2.RemoveReactionResponse:
        chat_id = _chat_id(request.chat_id)
        seq = _seq(request.seq)
        await self._chats.react(
            await self._caller(write=True), chat_id, seq, request.emoji, add=False
        )
        return chat_pb2.RemoveReactionResponse()

    # -- search and presence -------------------------------------------------------------

    async def Search(
        self, request: chat_pb2.SearchRequest, context: Context
    ) -> chat_pb2.SearchResponse:
        chat_id = rpc.optional(request, "chat_id")
        limit = rpc.in_range("limit", rpc.optional(request, "limit"), 1, search_routes.MAX_LIMIT)
        page = await self._chats.search(
            await self._caller(write=False),
            q=request.q,
            chat_id=_chat_id(chat_id) if chat_id is not None else None,
            limit=limit or search_routes.DEFAULT_LIMIT,
            cursor=_cursor(rpc.optional(request, "cursor")),
        )
        out = search_routes.SearchOut(
            [
                search_routes.SearchResultOut(message.chat_id, schemas.MessageOut.of(message))
                for message in page.results
            ],
            page.next_cursor,
        )
        return rpc.encode(out, chat_pb2.SearchResponse())

    async def SetPresence(
        self, request: chat_pb2.SetPresenceRequest, context: Context
    ) -> chat_pb2.SetPresenceResponse:
        body = rpc.decode(request, StatusBody)
        await self._presence.choose(await self._caller(write=True), body.status)
        return chat_pb2.SetPresenceResponse()

    async def GetPresence(
        self, request: chat_pb2.GetPresenceRequest, context: Context
    ) -> chat_pb2.GetPresenceResponse:
        # As GET /v1/presence's `user_id` values.
        values = list(request.user_ids)
        if not values:
            raise InvalidField("user_ids", "give at least one user id")
        if len(values) > presence_domain.MAX_IDS:
            raise InvalidField("user_ids", f"at most {presence_domain.MAX_IDS} user ids")
        try:
            user_ids = [uuid.UUID(value) for value in values]
        except ValueError:
            raise InvalidField("user_ids", "each user id must be a UUID") from None
        found = await self._presence.presence_of(await self._caller(write=False), user_ids)
        return rpc.encode(
            {"presence": [PresenceOut.of(view) for view in found]},
            chat_pb2.GetPresenceResponse(),
        )

    # -- attachments ---------------------------------------------------------------------

    async def CreateAttachment(
        self, request: chat_pb2.CreateAttachmentRequest, context: Context
    ) -> chat_pb2.CreateAttachmentResponse:
        body = rpc.decode(request, schemas.UploadBody)
        upload = await self._chats.create_upload(
            await self._caller(write=True),
            filename=body.filename,
            content_type=body.content_type,
            size=body.size,
        )
        return rpc.encode(schemas.UploadOut.of(upload), chat_pb2.CreateAttachmentResponse())

    async def GetAttachment(
        self, request: chat_pb2.GetAttachmentRequest, context: Context
    ) -> chat_pb2.GetAttachmentResponse:
        attachment_id = _uuid(request.id, "id", "not an attachment id")
        view, target, _, _ = await self._chats.describe(
            await self._caller(write=False), attachment_id
        )
        # The bytes stay on HTTP: the object store's presigned URL, or chat's own route.
        return chat_pb2.GetAttachmentResponse(
            attachment=rpc.encode(schemas.AttachmentOut.of(view), chat_pb2.Attachment()),
            download_url=target.redirect or view.url,
        )

    # -- the stream ----------------------------------------------------------------------

    async def Subscribe(
        self, request: chat_pb2.SubscribeRequest, context: Context
    ) -> AsyncIterator[chat_pb2.SubscribeResponse]:
        cursors = _cursors(request)
        claims = rpc.claims()
        credential = stream_routes.credential_of(claims)
        standing = await access.standing_of(self._directory, credential)
        if standing is access.Standing.GONE:
            raise TenantGone()
        if standing is access.Standing.SUSPENDED:
            raise TenantSuspended()
        socket = SubscribeSocket(
            msgspec.json.encode({"type": "resume", "cursors": cursors}).decode(),
            backlog=self._shared.policy.queue_size,
        )
        connection = stream_connection.Connection(
            socket,
            credential.caller,
            claims.expires_at,
            self._shared,
            standing=lambda: access.standing_of(self._directory, credential),
        )
        self._connections.add(connection)
        serving = asyncio.get_running_loop().create_task(
            stream_routes.serve(self._stream, connection)
        )
        try:
            async for frame in socket.frames():
                reply = reply_of(frame)
                if reply is not None:
                    yield reply
        finally:
            self._connections.discard(connection)
            # The client went away (or the call was cancelled): end the connection too.
            socket.hang_up()
            with contextlib.suppress(asyncio.CancelledError):
                await serving
        if socket.ended_with is not None:
            await context.abort_with_status(end_status(socket.ended_with))

    def stopping(self) -> None:
        """The server is stopping: end every Subscribe with UNAVAILABLE (docs/grpc.md)."""
        for connection in list(self._connections):
            connection.end(CloseCode.RESTARTING)


def registration(servicer: ChatServicer) -> rpc.Registration:
    return rpc.Registration(
        SERVICE,
        lambda server: chat_pb2_grpc.add_ChatServiceServicer_to_server(servicer, server),
        stopping=servicer.stopping,
    )


class TenantEventServicer(chat_pb2_grpc.TenantEventServiceServicer):
    """`parley.chat.v1.TenantEventService`: the routes of `parley_chat.api.tenant` and
    `parley_chat.api.webhooks` over gRPC, called with a server key (`rpc.server_key()`)."""

    def __init__(self, events: feed.Feed, hooks: webhooks.Webhooks) -> None:
        self._events = events
        self._hooks = hooks

    async def ListEvents(
        self, request: chat_pb2.ListEventsRequest, context: Context
    ) -> chat_pb2.ListEventsResponse:
        limit = rpc.optional(request, "limit")
        wait = rpc.optional(request, "wait")
        page = await self._events.read(
            tenant=rpc.server_key().tenant,
            after=_text(rpc.optional(request, "after"), "after", 200),
            limit=feed.DEFAULT_LIMIT if limit is None else limit,
            wait=0.0 if wait is None else wait,
        )
        return chat_pb2.ListEventsResponse(
            events=[_event(event) for event in page.events], cursor=page.cursor
        )

    async def PutWebhook(
        self, request: chat_pb2.PutWebhookRequest, context: Context
    ) -> chat_pb2.PutWebhookResponse:
        name = _webhook_name(request.name)
        body = rpc.decode(request, webhook_routes.WebhookBody)
        key = rpc.server_key()
        webhook_routes.writable(key)
        view, created = await self._hooks.put(
            name, tenant=key.tenant, url=body.url, events=body.events, enabled=body.enabled
        )
        reply = chat_pb2.PutWebhookResponse(
            webhook=rpc.encode(webhook_routes.WebhookOut.of(view), chat_pb2.Webhook()),
            created=created,
        )
        if created:
            reply.secret = webhook_routes.WebhookCreatedOut.of(view).secret
        return reply

    async def ListWebhooks(
        self, request: chat_pb2.ListWebhooksRequest, context: Context
    ) -> chat_pb2.ListWebhooksResponse:
        listed = await self._hooks.all_of(tenant=rpc.server_key().tenant)
        return rpc.encode(
            webhook_routes.WebhooksOut([webhook_routes.WebhookOut.of(view) for view in listed]),
            chat_pb2.ListWebhooksResponse(),
        )

    async def DeleteWebhook(
        self, request: chat_pb2.DeleteWebhookRequest, context: Context
    ) -> chat_pb2.DeleteWebhookResponse:
        name = _webhook_name(request.name)
        key = rpc.server_key()
        webhook_routes.writable(key)
        await self._hooks.delete(name, tenant=key.tenant)
        return chat_pb2.DeleteWebhookResponse()


def tenant_registration(
    servicer: TenantEventServicer, server_keys: serverkeys.KeyResolver
) -> rpc.Registration:
    return rpc.Registration(
        TENANT_SERVICE,
        lambda server: chat_pb2_grpc.add_TenantEventServiceServicer_to_server(servicer, server),
        server_keys=server_keys,
    )


_SLUG = re.compile(names.SLUG_PATTERN)


def _webhook_name(value: str) -> str:
    # As the REST path's pattern.
    if not _SLUG.match(value):
        raise InvalidField("name", "not a webhook name")
    return value


def _text(value: str | None, name: str, most: int) -> str | None:
    if value is not None and len(value) > most:
        raise InvalidField(name, f"at most {most} characters")
    return value


def _event(event: feed.EventView) -> chat_pb2.Event:
    """The REST event, its free-form `data` as JSON text (docs/grpc.md "Tenant backends")."""
    out = msgspec.to_builtins(tenant_routes.EventOut.of(event))
    out["data"] = msgspec.json.encode(out["data"]).decode()
    return rpc.encode(out, chat_pb2.Event())


def _cursors(request: chat_pb2.SubscribeRequest) -> dict[str, int]:
    """The request's cursors, refused as the stream refuses a bad `resume` frame."""
    if len(request.cursors) > 10_000:
        raise InvalidField("cursors", "at most 10000 chats")
    cursors: dict[str, int] = {}
    for key, seq in request.cursors.items():
        name = f"cursors[{key}]"
        cursors[str(_chat_id(key, name))] = rpc.in_range(name, seq, 0, schemas.MAX_SEQ) or 0
    return cursors


class SubscribeSocket:
    """A Subscribe call as the stream `Connection` sees a WebSocket (realtime/writer.py
    `Socket`): its first frame from the client is the request's `resume`, the frames the
    connection writes queue for the call to send, and closing records why it ended.

    The queue is bounded: while the client reads slowly the connection's writer waits,
    its own queue fills, and it ends the stream as too far behind (4429), as on a socket.
    """

    scope: dict[str, Any]

    def __init__(self, resume: str, *, backlog: int) -> None:
        self.scope = {}
        self._resume: str | None = resume
        self._frames: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=max(1, backlog))
        self._closed = asyncio.Event()
        self.ended_with: CloseCode | None = None
        """Why the server ended the stream; None when the client did."""

    async def send_text(self, data: bytes) -> None:
        if self._closed.is_set():
            raise WebSocketDisconnect(detail="subscriber gone")
        await self._frames.put(data)

    async def receive_data(self, mode: Literal["text"]) -> str:
        if self._resume is not None:
            resume, self._resume = self._resume, None
            return resume
        await self._closed.wait()
        raise WebSocketDisconnect(detail="subscriber gone")

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self._closed.is_set():
            return
        self.ended_with = next(
            (case for case in CloseCode if (case.code, case.reason) == (code, reason)), None
        )
        self._end()

    def hang_up(self) -> None:
        """The client went away, or its call was cancelled."""
        if not self._closed.is_set():
            self._end()

    def _end(self) -> None:
        self._closed.set()
        # Wakes `frames` when it waits on an empty queue; a full queue is drained first.
        with contextlib.suppress(asyncio.QueueFull):
            self._frames.put_nowait(None)

    async def frames(self) -> AsyncIterator[bytes]:
        """Every frame written, in order, until the stream ends."""
        while True:
            if self._closed.is_set() and self._frames.empty():
                return
            frame = await self._frames.get()
            if frame is None:
                return
            yield frame


_EVENTS = {
    "ready": "ready",
    "message": "message",
    "message.updated": "message_updated",
    "member.joined": "member_joined",
    "member.left": "member_left",
    "typing": "typing",
    "reaction": "reaction",
    "presence": "presence",
}
"""Each stream frame `type` (docs/api.md) and the SubscribeResponse field that carries it;
`pong` and `error` answer client frames, which a Subscribe call never sends."""


def reply_of(frame: bytes) -> chat_pb2.SubscribeResponse | None:
    """A stream frame as a SubscribeResponse: its fields are the frame's, by name."""
    data = json.loads(frame)
    name = _EVENTS.get(data.pop("type", None))
    if name is None:
        return None
    reply = chat_pb2.SubscribeResponse()
    json_format.ParseDict({name: data}, reply, ignore_unknown_fields=True)
    return reply


_DEPENDENCIES = {
    CloseCode.AUTH_UNAVAILABLE: "auth",
    CloseCode.BROKER_UNAVAILABLE: "redis",
    CloseCode.DATABASE_UNAVAILABLE: "database",
}


class ServerRestarting(ApiError, status_code=503, detail="server restarting: subscribe again"):
    """A stream ended by a stopping server: the client resumes on another replica."""


class TooFarBehind(TooManyRequests, detail="too far behind: subscribe again"):
    """The client read too slowly (WebSocket 4429)."""


class StreamFailed(ApiError, status_code=503, detail="internal error: subscribe again"):
    """A fault of the stream's own (WebSocket 1011): the client resumes, as there."""


def end_status(close: CloseCode) -> grpc.Status:
    """The status a Subscribe ends with when the server ends it, from the WebSocket close
    code it would have sent (docs/grpc.md "Subscribe"): a client resumes after UNAVAILABLE
    (naming the dependency when one failed) and RESOURCE_EXHAUSTED (too far behind); it
    signs in again after UNAUTHENTICATED."""
    ended: ApiError
    if close in _DEPENDENCIES:
        ended = DependencyUnavailable(_DEPENDENCIES[close])
    elif close is CloseCode.RESTARTING:
        ended = ServerRestarting()
    elif close is CloseCode.SUSPENDED:
        ended = TenantSuspended()
    elif close.code == 4401:
        ended = TenantGone(close.reason)
    elif close is CloseCode.SLOW_CONSUMER:
        ended = TooFarBehind(retry_after=1)
    else:
        ended = StreamFailed()
    return rpc.status_of(ended)
