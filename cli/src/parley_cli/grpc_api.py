"""`parley --grpc`: the same client as `api.Client`, over the gRPC API (docs/grpc.md).

Every user command's call goes through the generated stubs of parley-proto, and answers
in the same JSON shapes (`parley_cli.shapes`: the proto's field names are the REST
bodies'), so the commands and their output do not know which API they spoke to; the two
giving the same output is the parity the tests check. The admin commands stay on HTTP:
the `/internal` routes have no gRPC counterpart.

The gRPC target is `--grpc-target HOST:PORT`, else the profile's server host on
`DEFAULT_PORT` (TLS when the server URL is https).
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message as ProtoMessage

from parley_cli import api
from parley_cli.errors import ApiError, AuthError
from parley_proto.auth.v1 import auth_pb2, auth_pb2_grpc
from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc

DEFAULT_PORT = 50051
"""The port `make run` serves gRPC on (PARLEY_GRPC_PORT's default there)."""

Reply = TypeVar("Reply", bound=ProtoMessage)

_HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNAVAILABLE: 503,
}
"""docs/grpc.md's error table read backwards, so commands that tell refusals apart by
status (a 404 from a lookup) behave as over REST."""


def default_target(server: str) -> str:
    """The profile server's host on the default gRPC port."""
    host = urllib.parse.urlsplit(server).hostname or "127.0.0.1"
    return f"[{host}]:{DEFAULT_PORT}" if ":" in host else f"{host}:{DEFAULT_PORT}"


def as_json(message: ProtoMessage) -> dict[str, Any]:
    """A reply in its REST shape: every field by name, an unset optional as null."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _nulls(message, data)
    return data


_OMITTED = frozenset({"parley.chat.v1.Attachment"})
"""Messages whose REST shape leaves an unset field out instead of writing null (an
attachment's `width` and `height`, for images only)."""


def _nulls(message: ProtoMessage, data: dict[str, Any]) -> None:
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            continue
        if field.type == FieldDescriptor.TYPE_INT64 and field.name in data:
            # JSON's mapping writes 64-bit integers as strings; REST has numbers (`size`).
            data[field.name] = int(data[field.name])
        value = getattr(message, field.name)
        if field.is_repeated:
            if field.message_type is not None:
                for item, out in zip(value, data.get(field.name, []), strict=False):
                    _nulls(item, out)
        elif field.has_presence and not message.HasField(field.name):
            if message.DESCRIPTOR.full_name not in _OMITTED:
                data[field.name] = None
        elif (
            field.message_type is not None
            and field.name in data
            and field.message_type.full_name != "google.protobuf.Timestamp"
        ):
            _nulls(value, data[field.name])


class _Unauthenticated(Exception):
    pass


class GrpcClient(api.Client):
    def __init__(
        self,
        server: str,
        *,
        target: str | None = None,
        credentials: api.Credentials | None = None,
        admin_token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(server, credentials=credentials, admin_token=admin_token, timeout=timeout)
        self.target = target or default_target(self.server)
        self._timeout = timeout
        self._channel = (
            grpc.secure_channel(self.target, grpc.ssl_channel_credentials())
            if self.server.startswith("https://")
            else grpc.insecure_channel(self.target)
        )
        self._auth = auth_pb2_grpc.AuthServiceStub(self._channel)
        self._chat = chat_pb2_grpc.ChatServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()
        super().close()

    # -- calls ----------------------------------------------------------------------------

    def _call(
        self, method: Callable[..., Reply], request: ProtoMessage, token: str | None = None
    ) -> Reply:
        metadata = (("authorization", f"Bearer {token}"),) if token else None
        try:
            return method(request, metadata=metadata, timeout=self._timeout)
        except grpc.RpcError as error:
            raise self._refusal(error) from None

    def _refusal(self, error: grpc.RpcError) -> Exception:
        call = cast(grpc.Call, error)
        code, detail = call.code(), " ".join((call.details() or "").split())
        if code is grpc.StatusCode.UNAUTHENTICATED:
            return _Unauthenticated(detail)
        if code is grpc.StatusCode.DEADLINE_EXCEEDED:
            return ApiError(f"the gRPC server at {self.target} did not answer in time")
        if code is grpc.StatusCode.UNAVAILABLE and not detail.endswith("unavailable"):
            # Not a dependency the server names ("database unavailable"): no server at all.
            return ApiError(f"cannot reach gRPC server at {self.target} ({detail})")
        return ApiError(f"{detail} (gRPC {code.name})", status=_HTTP_STATUS.get(code))

    def _public(self, method: Callable[..., Reply], request: ProtoMessage) -> Reply:
        try:
            return self._call(method, request)
        except _Unauthenticated as exc:
            raise ApiError(f"{exc} (gRPC UNAUTHENTICATED)", status=401) from None

    def _as_user(self, method: Callable[..., Reply], request: ProtoMessage) -> Reply:
        """A call as the logged-in user: on UNAUTHENTICATED, rotate the pair once and retry."""
        credentials = self._require_credentials()
        token = credentials.access_token()
        try:
            return self._call(method, request, token)
        except _Unauthenticated:
            token = credentials.rotate(token, self.refresh)
        try:
            return self._call(method, request, token)
        except _Unauthenticated:
            raise AuthError(
                "the server refused a freshly issued token; run 'parley login'"
            ) from None

    # -- auth -----------------------------------------------------------------------------

    def register(
        self, tenant: str, username: str, password: str, display_name: str | None = None
    ) -> api.User:
        request = auth_pb2.RegisterRequest(
            tenant=tenant, username=username, password=password, display_name=display_name
        )
        return cast(api.User, as_json(self._public(self._auth.Register, request).user))

    def login(self, tenant: str, username: str, password: str) -> api.TokenPair:
        request = auth_pb2.LoginRequest(tenant=tenant, username=username, password=password)
        try:
            reply = self._call(self._auth.Login, request)
        except _Unauthenticated:
            raise AuthError("login failed: wrong tenant, username or password") from None
        except ApiError as exc:
            if exc.status == 403:
                raise AuthError(f"login refused: {exc}") from None
            raise
        return cast(api.TokenPair, as_json(reply.token_pair))

    def refresh(self, refresh_token: str) -> api.TokenPair:
        request = auth_pb2.RefreshRequest(refresh_token=refresh_token)
        try:
            reply = self._call(self._auth.Refresh, request)
        except _Unauthenticated:
            raise AuthError("the session has expired or was ended; run 'parley login'") from None
        return cast(api.TokenPair, as_json(reply.token_pair))

    def logout(self, refresh_token: str) -> None:
        # Already ended: logging out again is no error.
        with contextlib.suppress(_Unauthenticated):
            self._call(self._auth.Logout, auth_pb2.LogoutRequest(refresh_token=refresh_token))

    def me(self) -> api.User:
        return cast(
            api.User, as_json(self._as_user(self._auth.GetMe, auth_pb2.GetMeRequest()).user)
        )

    def update_profile(self, display_name: str) -> api.User:
        request = auth_pb2.UpdateMeRequest(display_name=display_name)
        return cast(api.User, as_json(self._as_user(self._auth.UpdateMe, request).user))

    def change_password(self, current: str, new: str) -> None:
        # One attempt, never retried, as over REST (api.Client.change_password).
        self.me()
        token = self._require_credentials().access_token()
        request = auth_pb2.ChangePasswordRequest(current_password=current, new_password=new)
        try:
            self._call(self._auth.ChangePassword, request, token)
        except _Unauthenticated:
            raise AuthError("the current password is wrong") from None

    # -- presence -------------------------------------------------------------------------

    def presence(self, user_ids: list[str]) -> list[api.Presence]:
        found: list[api.Presence] = []
        for start in range(0, len(user_ids), api.MAX_PRESENCE_IDS):
            request = chat_pb2.GetPresenceRequest(
                user_ids=user_ids[start : start + api.MAX_PRESENCE_IDS]
            )
            reply = self._as_user(self._chat.GetPresence, request)
            found += [cast(api.Presence, as_json(item)) for item in reply.presence]
        return found

    def set_status(self, status: str) -> None:
        self._as_user(self._chat.SetPresence, chat_pb2.SetPresenceRequest(status=status))

    # -- chats ----------------------------------------------------------------------------

    def chats(self) -> list[api.Chat]:
        reply = self._as_user(self._chat.ListChats, chat_pb2.ListChatsRequest())
        return [cast(api.Chat, as_json(chat)) for chat in reply.chats]

    def chat(self, chat_id: str) -> api.Chat:
        reply = self._as_user(self._chat.GetChat, chat_pb2.GetChatRequest(chat_id=chat_id))
        return cast(api.Chat, as_json(reply.chat))

    def create_chat(self, kind: str, members: list[str], title: str | None = None) -> api.Chat:
        request = chat_pb2.CreateChatRequest(kind=kind, members=members, title=title)
        return cast(api.Chat, as_json(self._as_user(self._chat.CreateChat, request).chat))

    def add_member(self, chat_id: str, username: str) -> api.Member:
        request = chat_pb2.AddMemberRequest(chat_id=chat_id, username=username)
        return cast(api.Member, as_json(self._as_user(self._chat.AddMember, request).member))

    def remove_member(self, chat_id: str, username: str) -> None:
        request = chat_pb2.RemoveMemberRequest(chat_id=chat_id, username=username)
        self._as_user(self._chat.RemoveMember, request)

    # -- messages -------------------------------------------------------------------------

    def send(
        self,
        chat_id: str,
        body: str,
        client_msg_id: str | None = None,
        *,
        reply_to: int | None = None,
        attachments: Sequence[str] = (),
    ) -> api.Message:
        request = chat_pb2.SendMessageRequest(
            chat_id=chat_id,
            body=body,
            client_msg_id=client_msg_id,
            reply_to=reply_to,
            attachments=attachments,
        )
        return cast(api.Message, as_json(self._as_user(self._chat.SendMessage, request).message))

    # -- attachments: declared and described over gRPC, the bytes over HTTP ----------------

    def declare_upload(self, filename: str, content_type: str, size: int) -> api.Upload:
        request = chat_pb2.CreateAttachmentRequest(
            filename=filename, content_type=content_type, size=size
        )
        return cast(api.Upload, as_json(self._as_user(self._chat.CreateAttachment, request)))

    @contextlib.contextmanager
    def download(self, attachment_url: str) -> Iterator[httpx.Response]:
        """The file of an attachment's `url`: GetAttachment says where its bytes are, an
        object store's presigned URL (fetched without our token) or chat's own route."""
        attachment_id = attachment_url.rstrip("/").rpartition("/")[2]
        request = chat_pb2.GetAttachmentRequest(id=attachment_id)
        found = self._as_user(self._chat.GetAttachment, request)
        if not found.download_url.startswith(("http://", "https://")):
            with super().download(found.download_url) as response:
                yield response
            return
        with (
            httpx.Client(timeout=httpx.Timeout(None, connect=10.0)) as store,
            store.stream("GET", found.download_url) as response,
        ):
            if not response.is_success:
                response.read()
                self._check(response)
            yield response

    def history(
        self,
        chat_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
    ) -> api.Page:
        request = chat_pb2.ListMessagesRequest(
            chat_id=chat_id, after_seq=after_seq, before_seq=before_seq, limit=limit
        )
        return cast(api.Page, as_json(self._as_user(self._chat.ListMessages, request)))

    def thread(self, chat_id: str, root: int, after_seq: int, limit: int) -> api.Page:
        request = chat_pb2.GetThreadRequest(
            chat_id=chat_id, seq=root, after_seq=after_seq, limit=limit
        )
        return cast(api.Page, as_json(self._as_user(self._chat.GetThread, request)))

    def react(self, chat_id: str, seq: int, emoji: str, *, remove: bool = False) -> None:
        if remove:
            request = chat_pb2.RemoveReactionRequest(chat_id=chat_id, seq=seq, emoji=emoji)
            self._as_user(self._chat.RemoveReaction, request)
        else:
            added = chat_pb2.AddReactionRequest(chat_id=chat_id, seq=seq, emoji=emoji)
            self._as_user(self._chat.AddReaction, added)

    def edit(self, chat_id: str, seq: int, body: str) -> api.Message:
        request = chat_pb2.EditMessageRequest(chat_id=chat_id, seq=seq, body=body)
        return cast(api.Message, as_json(self._as_user(self._chat.EditMessage, request).message))

    def delete_message(self, chat_id: str, seq: int) -> None:
        request = chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=seq)
        self._as_user(self._chat.DeleteMessage, request)

    def mark_read(self, chat_id: str, seq: int) -> None:
        self._as_user(self._chat.MarkRead, chat_pb2.MarkReadRequest(chat_id=chat_id, seq=seq))

    def search(
        self,
        q: str,
        *,
        chat_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> api.SearchPage:
        request = chat_pb2.SearchRequest(q=q, chat_id=chat_id, limit=limit, cursor=cursor)
        return cast(api.SearchPage, as_json(self._as_user(self._chat.Search, request)))
