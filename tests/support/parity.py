"""One client, two transports: the contract operations over REST (httpx) or gRPC (the
generated stubs), answering in the same shapes, so a test written once runs over both and
shows the two APIs agree (docs/grpc.md).

Answers are the REST JSON shapes (the gRPC ones are the same field names, read with
`MessageToDict`); a refusal raises `Refused` with a transport-neutral `kind` and, for bad
input, the field it names. A gRPC INTERNAL or UNKNOWN, like a REST 500, is never a
refusal: it fails the test.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from parley_proto.auth.v1 import auth_pb2, auth_pb2_grpc
from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc

TRANSPORTS = ["rest", "grpc"]


class Refused(Exception):
    def __init__(self, kind: str, detail: str, field: str | None = None) -> None:
        super().__init__(f"{kind}: {detail} ({field})")
        self.kind = kind
        self.detail = detail
        self.field = field


_REST_KINDS = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "invalid",
    422: "invalid",
    429: "limited",
    503: "unavailable",
}
_GRPC_KINDS = {
    grpc.StatusCode.INVALID_ARGUMENT: "invalid",
    grpc.StatusCode.UNAUTHENTICATED: "unauthenticated",
    grpc.StatusCode.PERMISSION_DENIED: "forbidden",
    grpc.StatusCode.NOT_FOUND: "not_found",
    grpc.StatusCode.ALREADY_EXISTS: "conflict",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "limited",
    grpc.StatusCode.UNAVAILABLE: "unavailable",
}


class Client(Protocol):
    transport: str

    def register(self, tenant: str, username: str, password: str) -> dict[str, Any]: ...
    def login(self, tenant: str, username: str, password: str) -> dict[str, Any]: ...
    def refresh(self, refresh_token: str) -> dict[str, Any]: ...
    def me(self, token: str) -> dict[str, Any]: ...
    def create_chat(
        self, token: str, kind: str, members: list[str], title: str | None = None
    ) -> dict[str, Any]: ...
    def chats(self, token: str) -> list[dict[str, Any]]: ...
    def chat(self, token: str, chat_id: str) -> dict[str, Any]: ...
    def add_member(self, token: str, chat_id: str, username: str) -> dict[str, Any]: ...
    def remove_member(self, token: str, chat_id: str, username: str) -> None: ...
    def send(self, token: str, chat_id: str, body: str, **extra: Any) -> dict[str, Any]: ...
    def history(self, token: str, chat_id: str, **params: int) -> dict[str, Any]: ...
    def edit(self, token: str, chat_id: str, seq: int, body: str) -> dict[str, Any]: ...
    def delete(self, token: str, chat_id: str, seq: int) -> None: ...
    def thread(self, token: str, chat_id: str, seq: int) -> dict[str, Any]: ...
    def react(self, token: str, chat_id: str, seq: int, emoji: str, *, add: bool) -> None: ...
    def search(self, token: str, q: str, **params: Any) -> dict[str, Any]: ...
    def create_attachment(
        self, token: str, filename: str, content_type: str, size: int
    ) -> dict[str, Any]: ...
    def attachment(self, token: str, attachment_id: str) -> dict[str, Any]: ...
    def put_user(self, key: str, username: str, **body: Any) -> tuple[dict[str, Any], bool]: ...
    def mint_tokens(self, key: str, username: str, **body: Any) -> dict[str, Any]: ...
    def events(self, key: str, **params: Any) -> dict[str, Any]: ...
    def put_webhook(self, key: str, name: str, **body: Any) -> tuple[dict[str, Any], bool]: ...
    def webhooks(self, key: str) -> list[dict[str, Any]]: ...
    def delete_webhook(self, key: str, name: str) -> None: ...
    def close(self) -> None: ...


class RestClient:
    transport = "rest"

    def __init__(self, auth_url: str, chat_url: str) -> None:
        self._auth = httpx.Client(base_url=auth_url, timeout=30)
        self._chat = httpx.Client(base_url=chat_url, timeout=30)

    def close(self) -> None:
        self._auth.close()
        self._chat.close()

    def _call(
        self, http: httpx.Client, method: str, path: str, token: str | None = None, **kw: Any
    ) -> Any:
        response = self._respond(http, method, path, token, **kw)
        return response.json() if response.content else None

    @staticmethod
    def _respond(
        http: httpx.Client, method: str, path: str, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        """The response, or the refusal it is raised as."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = http.request(method, path, headers=headers, **kw)
        if response.status_code >= 500 and response.status_code != 503:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        if response.status_code >= 400:
            problem = response.json()
            errors = problem.get("errors") or [{}]
            raise Refused(
                _REST_KINDS[response.status_code], problem["detail"], errors[0].get("field")
            )
        return response

    def register(self, tenant: str, username: str, password: str) -> dict[str, Any]:
        body = {"tenant": tenant, "username": username, "password": password}
        result: dict[str, Any] = self._call(self._auth, "POST", "/v1/auth/register", json=body)
        return result

    def login(self, tenant: str, username: str, password: str) -> dict[str, Any]:
        body = {"tenant": tenant, "username": username, "password": password}
        result: dict[str, Any] = self._call(self._auth, "POST", "/v1/auth/login", json=body)
        return result

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        body = {"refresh_token": refresh_token}
        result: dict[str, Any] = self._call(self._auth, "POST", "/v1/auth/refresh", json=body)
        return result

    def me(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self._auth, "GET", "/v1/auth/me", token)
        return result

    def create_chat(
        self, token: str, kind: str, members: list[str], title: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "members": members}
        if title is not None:
            body["title"] = title
        result: dict[str, Any] = self._call(self._chat, "POST", "/v1/chats", token, json=body)
        return result

    def chats(self, token: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(self._chat, "GET", "/v1/chats", token)["chats"]
        return result

    def chat(self, token: str, chat_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call(self._chat, "GET", f"/v1/chats/{chat_id}", token)
        return result

    def add_member(self, token: str, chat_id: str, username: str) -> dict[str, Any]:
        path = f"/v1/chats/{chat_id}/members"
        result: dict[str, Any] = self._call(
            self._chat, "POST", path, token, json={"username": username}
        )
        return result

    def remove_member(self, token: str, chat_id: str, username: str) -> None:
        self._call(self._chat, "DELETE", f"/v1/chats/{chat_id}/members/{username}", token)

    def send(self, token: str, chat_id: str, body: str, **extra: Any) -> dict[str, Any]:
        path = f"/v1/chats/{chat_id}/messages"
        result: dict[str, Any] = self._call(
            self._chat, "POST", path, token, json={"body": body, **extra}
        )
        return result

    def history(self, token: str, chat_id: str, **params: int) -> dict[str, Any]:
        path = f"/v1/chats/{chat_id}/messages"
        result: dict[str, Any] = self._call(self._chat, "GET", path, token, params=params)
        return result

    def edit(self, token: str, chat_id: str, seq: int, body: str) -> dict[str, Any]:
        path = f"/v1/chats/{chat_id}/messages/{seq}"
        result: dict[str, Any] = self._call(self._chat, "PATCH", path, token, json={"body": body})
        return result

    def delete(self, token: str, chat_id: str, seq: int) -> None:
        self._call(self._chat, "DELETE", f"/v1/chats/{chat_id}/messages/{seq}", token)

    def thread(self, token: str, chat_id: str, seq: int) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            self._chat, "GET", f"/v1/chats/{chat_id}/threads/{seq}", token
        )
        return result

    def react(self, token: str, chat_id: str, seq: int, emoji: str, *, add: bool) -> None:
        path = f"/v1/chats/{chat_id}/messages/{seq}/reactions/{urllib.parse.quote(emoji)}"
        self._call(self._chat, "PUT" if add else "DELETE", path, token)

    def search(self, token: str, q: str, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            self._chat, "GET", "/v1/search", token, params={"q": q, **params}
        )
        return result

    def create_attachment(
        self, token: str, filename: str, content_type: str, size: int
    ) -> dict[str, Any]:
        body = {"filename": filename, "content_type": content_type, "size": size}
        result: dict[str, Any] = self._call(self._chat, "POST", "/v1/attachments", token, json=body)
        return result

    def attachment(self, token: str, attachment_id: str) -> dict[str, Any]:
        """GET /v1/attachments/{id}: the bytes, or the redirect to them, followed."""
        path = f"/v1/attachments/{attachment_id}"
        response = self._respond(self._chat, "GET", path, token)
        location = response.headers.get("location")
        if location is not None:
            response = httpx.get(location, timeout=30)
        return {"download_url": location or path, "content": response.content}

    def put_user(self, key: str, username: str, **body: Any) -> tuple[dict[str, Any], bool]:
        response = self._respond(self._auth, "PUT", f"/v1/tenant/users/{username}", key, json=body)
        return response.json(), response.status_code == 201

    def mint_tokens(self, key: str, username: str, **body: Any) -> dict[str, Any]:
        path = f"/v1/tenant/users/{username}/tokens"
        result: dict[str, Any] = self._respond(self._auth, "POST", path, key, json=body).json()
        return result

    def events(self, key: str, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._respond(
            self._chat, "GET", "/v1/tenant/events", key, params=params
        ).json()
        return result

    def put_webhook(self, key: str, name: str, **body: Any) -> tuple[dict[str, Any], bool]:
        response = self._respond(self._chat, "PUT", f"/v1/tenant/webhooks/{name}", key, json=body)
        return response.json(), response.status_code == 201

    def webhooks(self, key: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._respond(
            self._chat, "GET", "/v1/tenant/webhooks", key
        ).json()["webhooks"]
        return result

    def delete_webhook(self, key: str, name: str) -> None:
        self._respond(self._chat, "DELETE", f"/v1/tenant/webhooks/{name}", key)


def as_dict(message: Message) -> dict[str, Any]:
    """A gRPC answer in its REST shape: the same names; unset optionals are left out."""
    data = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    _int64s(message, data)
    return data


def _int64s(message: Message, data: dict[str, Any]) -> None:
    """64-bit integers (an attachment's `size`) are strings in proto's JSON, numbers in REST's."""
    for field in message.DESCRIPTOR.fields:
        value = data.get(field.name)
        if value is None:
            continue
        if field.type == FieldDescriptor.TYPE_INT64:
            data[field.name] = int(value)
        elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
            nested = getattr(message, field.name)
            if field.is_repeated:
                for item, out in zip(nested, value, strict=True):
                    _int64s(item, out)
            elif isinstance(value, dict):  # not a Timestamp's text
                _int64s(nested, value)


def refusal(error: grpc.RpcError) -> Refused:
    """What a failed gRPC call said, as a `Refused`; INTERNAL or UNKNOWN fails the test."""
    assert isinstance(error, grpc.Call)
    code = error.code()
    if code not in _GRPC_KINDS:
        raise AssertionError(f"gRPC {code}: {error.details()}")
    field = None
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            field = bad.field_violations[0].field
    return Refused(_GRPC_KINDS[code], error.details() or "", field)


class GrpcClient:
    transport = "grpc"

    def __init__(self, auth_target: str, chat_target: str, chat_url: str = "") -> None:
        self._channels = [grpc.insecure_channel(auth_target), grpc.insecure_channel(chat_target)]
        self.auth = auth_pb2_grpc.AuthServiceStub(self._channels[0])
        self.chat_stub = chat_pb2_grpc.ChatServiceStub(self._channels[1])
        self.tenant_users = auth_pb2_grpc.TenantUserServiceStub(self._channels[0])
        self.tenant_events = chat_pb2_grpc.TenantEventServiceStub(self._channels[1])
        # The bytes of attachments stay on HTTP (docs/grpc.md "Attachments").
        self.http = httpx.Client(base_url=chat_url or "http://127.0.0.1", timeout=30)

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        self.http.close()

    @staticmethod
    def _call(method: Any, request: Message, token: str | None = None) -> Any:
        metadata = [("authorization", f"Bearer {token}")] if token else None
        try:
            return method(request, metadata=metadata, timeout=30)
        except grpc.RpcError as error:
            raise refusal(error) from None

    def register(self, tenant: str, username: str, password: str) -> dict[str, Any]:
        request = auth_pb2.RegisterRequest(tenant=tenant, username=username, password=password)
        return as_dict(self._call(self.auth.Register, request).user)

    def login(self, tenant: str, username: str, password: str) -> dict[str, Any]:
        request = auth_pb2.LoginRequest(tenant=tenant, username=username, password=password)
        return as_dict(self._call(self.auth.Login, request).token_pair)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        request = auth_pb2.RefreshRequest(refresh_token=refresh_token)
        return as_dict(self._call(self.auth.Refresh, request).token_pair)

    def me(self, token: str) -> dict[str, Any]:
        return as_dict(self._call(self.auth.GetMe, auth_pb2.GetMeRequest(), token).user)

    def create_chat(
        self, token: str, kind: str, members: list[str], title: str | None = None
    ) -> dict[str, Any]:
        request = chat_pb2.CreateChatRequest(kind=kind, members=members, title=title)
        return as_dict(self._call(self.chat_stub.CreateChat, request, token).chat)

    def chats(self, token: str) -> list[dict[str, Any]]:
        answer = self._call(self.chat_stub.ListChats, chat_pb2.ListChatsRequest(), token)
        return [as_dict(chat) for chat in answer.chats]

    def chat(self, token: str, chat_id: str) -> dict[str, Any]:
        request = chat_pb2.GetChatRequest(chat_id=chat_id)
        return as_dict(self._call(self.chat_stub.GetChat, request, token).chat)

    def add_member(self, token: str, chat_id: str, username: str) -> dict[str, Any]:
        request = chat_pb2.AddMemberRequest(chat_id=chat_id, username=username)
        return as_dict(self._call(self.chat_stub.AddMember, request, token).member)

    def remove_member(self, token: str, chat_id: str, username: str) -> None:
        request = chat_pb2.RemoveMemberRequest(chat_id=chat_id, username=username)
        self._call(self.chat_stub.RemoveMember, request, token)

    def send(self, token: str, chat_id: str, body: str, **extra: Any) -> dict[str, Any]:
        request = chat_pb2.SendMessageRequest(chat_id=chat_id, body=body, **extra)
        return as_dict(self._call(self.chat_stub.SendMessage, request, token).message)

    def history(self, token: str, chat_id: str, **params: int) -> dict[str, Any]:
        request = chat_pb2.ListMessagesRequest(chat_id=chat_id, **params)
        return as_dict(self._call(self.chat_stub.ListMessages, request, token))

    def edit(self, token: str, chat_id: str, seq: int, body: str) -> dict[str, Any]:
        request = chat_pb2.EditMessageRequest(chat_id=chat_id, seq=seq, body=body)
        return as_dict(self._call(self.chat_stub.EditMessage, request, token).message)

    def delete(self, token: str, chat_id: str, seq: int) -> None:
        request = chat_pb2.DeleteMessageRequest(chat_id=chat_id, seq=seq)
        self._call(self.chat_stub.DeleteMessage, request, token)

    def thread(self, token: str, chat_id: str, seq: int) -> dict[str, Any]:
        request = chat_pb2.GetThreadRequest(chat_id=chat_id, seq=seq)
        return as_dict(self._call(self.chat_stub.GetThread, request, token))

    def react(self, token: str, chat_id: str, seq: int, emoji: str, *, add: bool) -> None:
        if add:
            self._call(
                self.chat_stub.AddReaction,
                chat_pb2.AddReactionRequest(chat_id=chat_id, seq=seq, emoji=emoji),
                token,
            )
        else:
            self._call(
                self.chat_stub.RemoveReaction,
                chat_pb2.RemoveReactionRequest(chat_id=chat_id, seq=seq, emoji=emoji),
                token,
            )

    def search(self, token: str, q: str, **params: Any) -> dict[str, Any]:
        request = chat_pb2.SearchRequest(q=q, **params)
        return as_dict(self._call(self.chat_stub.Search, request, token))

    def create_attachment(
        self, token: str, filename: str, content_type: str, size: int
    ) -> dict[str, Any]:
        request = chat_pb2.CreateAttachmentRequest(
            filename=filename, content_type=content_type, size=size
        )
        return as_dict(self._call(self.chat_stub.CreateAttachment, request, token))

    def attachment(self, token: str, attachment_id: str) -> dict[str, Any]:
        """GetAttachment, then the bytes over HTTP from where it says (docs/grpc.md)."""
        request = chat_pb2.GetAttachmentRequest(id=attachment_id)
        found = as_dict(self._call(self.chat_stub.GetAttachment, request, token))
        url = found["download_url"]
        if url.startswith("/"):
            content = self.http.get(url, headers={"Authorization": f"Bearer {token}"})
        else:
            content = httpx.get(url, timeout=30)
        assert content.status_code == 200, content.text
        return {**found, "content": content.content}

    def put_user(self, key: str, username: str, **body: Any) -> tuple[dict[str, Any], bool]:
        request = auth_pb2.PutUserRequest(username=username, **body)
        answer = self._call(self.tenant_users.PutUser, request, key)
        return as_dict(answer.user), answer.created

    def mint_tokens(self, key: str, username: str, **body: Any) -> dict[str, Any]:
        request = auth_pb2.MintTokensRequest(username=username, **body)
        return as_dict(self._call(self.tenant_users.MintTokens, request, key).token_pair)

    def events(self, key: str, **params: Any) -> dict[str, Any]:
        """ListEvents in REST's shape: each event's JSON `data` read back into an object."""
        request = chat_pb2.ListEventsRequest(**params)
        answer = as_dict(self._call(self.tenant_events.ListEvents, request, key))
        for event in answer.get("events", []):
            event["data"] = json.loads(event["data"])
        return {"events": answer.get("events", []), "cursor": answer["cursor"]}

    def put_webhook(self, key: str, name: str, **body: Any) -> tuple[dict[str, Any], bool]:
        request = chat_pb2.PutWebhookRequest(name=name, **body)
        answer = self._call(self.tenant_events.PutWebhook, request, key)
        webhook = as_dict(answer.webhook)
        if answer.HasField("secret"):
            webhook["secret"] = answer.secret
        return webhook, answer.created

    def webhooks(self, key: str) -> list[dict[str, Any]]:
        request = chat_pb2.ListWebhooksRequest()
        answer = self._call(self.tenant_events.ListWebhooks, request, key)
        return [as_dict(webhook) for webhook in answer.webhooks]

    def delete_webhook(self, key: str, name: str) -> None:
        request = chat_pb2.DeleteWebhookRequest(name=name)
        self._call(self.tenant_events.DeleteWebhook, request, key)


@dataclass(frozen=True)
class Endpoints:
    """Where one auth and one chat server answer, over HTTP and over gRPC."""

    auth_url: str
    chat_url: str
    auth_grpc: str
    chat_grpc: str

    def client(self, transport: str) -> Client:
        if transport == "rest":
            return RestClient(self.auth_url, self.chat_url)
        return GrpcClient(self.auth_grpc, self.chat_grpc, self.chat_url)


class Subscription:
    """A `Subscribe` call read on a thread of its own: `next()` is the next event, as
    `{field: fields}` (the SubscribeResponse's set oneof), or raises the status it ended
    with as `grpc.RpcError`."""

    def __init__(
        self,
        target: str,
        token: str,
        cursors: dict[str, int] | None = None,
        *,
        presence: bool = False,
    ) -> None:
        """Presence events are dropped unless asked for, as `support.stream.StreamClient`
        drops presence frames."""
        self._presence = presence
        self._channel = grpc.insecure_channel(target)
        stub = chat_pb2_grpc.ChatServiceStub(self._channel)
        self._call = stub.Subscribe(
            chat_pb2.SubscribeRequest(cursors=cursors or {}),
            metadata=(("authorization", f"Bearer {token}"),),
        )
        self._events: queue.Queue[dict[str, Any] | grpc.RpcError | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for reply in self._call:
                kind = reply.WhichOneof("event")
                if kind is not None and (self._presence or kind != "presence"):
                    self._events.put({kind: as_dict(getattr(reply, kind))})
        except grpc.RpcError as error:
            self._events.put(error)
            return
        self._events.put(None)

    def next(self, timeout: float = 15) -> dict[str, Any]:
        try:
            event = self._events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        if isinstance(event, grpc.RpcError):
            raise event
        assert event is not None, "the stream ended with OK"
        return event

    def seqs_until(self, done: Callable[[list[int]], bool], timeout: float = 30) -> list[int]:
        """The `seq`s of message events (of any chat) until `done(seqs)` holds."""
        seqs: list[int] = []
        deadline = time.monotonic() + timeout
        while not done(seqs):
            left = deadline - time.monotonic()
            assert left > 0, f"gave up waiting; got {seqs}"
            event = self.next(timeout=left)
            if "message" in event:
                seqs.append(event["message"]["message"]["seq"])
        return seqs

    def drain(self, timeout: float = 15) -> tuple[list[int], grpc.StatusCode | None]:
        """Read on to the end of the stream: the `seq`s of the message events on the way,
        and the status code it ended with."""
        seqs: list[int] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.next(timeout=max(0.1, deadline - time.monotonic()))
            except grpc.RpcError as error:
                return seqs, error.code() if isinstance(error, grpc.Call) else None
            if "message" in event:
                seqs.append(event["message"]["message"]["seq"])

    def ended_with(self, timeout: float = 15) -> grpc.StatusCode | None:
        """Read on to the end of the stream; the status code it ended with."""
        return self.drain(timeout)[1]

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
