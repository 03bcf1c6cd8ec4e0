"""`parley --grpc tail`: the tail of `parley_cli.stream` over the gRPC API's `Subscribe`
(docs/grpc.md "Subscribe").

The request carries the tail's cursors, so the server replays what was missed and then
goes live, as a WebSocket `resume` asks; each event is handed to the same `Tail.take` as
a stream frame of the same `type`, so printing stays exactly-once and in order. A stream
that ends UNAUTHENTICATED rotates the pair and subscribes again at once; every other end
(UNAVAILABLE from a restarting replica or a failed dependency, RESOURCE_EXHAUSTED when too
far behind, a lost connection) subscribes again after the tail's pause.
"""

from __future__ import annotations

import asyncio

import grpc

from parley_cli import grpc_api, stream
from parley_cli.errors import ApiError
from parley_proto.chat.v1 import chat_pb2, chat_pb2_grpc

FRAME_TYPES = {
    "message": "message",
    "message_updated": "message.updated",
    "member_joined": "member.joined",
    "member_left": "member.left",
    "typing": "typing",
    "reaction": "reaction",
    "presence": "presence",
}
"""Each SubscribeResponse event and the stream frame `type` it is."""


class GrpcTail(stream.Tail):
    client: grpc_api.GrpcClient

    async def run(self) -> None:
        target = self.client.target
        channel = (
            grpc.aio.secure_channel(target, grpc.ssl_channel_credentials())
            if self.client.server.startswith("https://")
            else grpc.aio.insecure_channel(target)
        )
        async with channel:
            chats = chat_pb2_grpc.ChatServiceStub(channel)
            while True:
                await self._subscribe(chats)

    async def _subscribe(self, chats: chat_pb2_grpc.ChatServiceAsyncStub) -> None:
        resumed = self._user_id is not None
        if resumed and self.only is None:
            try:
                await asyncio.to_thread(self._discover)
            except ApiError as exc:
                await self._pause(str(exc))
                return
        token = await asyncio.to_thread(self.client.access_token)
        call = chats.Subscribe(
            chat_pb2.SubscribeRequest(cursors=self.resume_cursors()),
            metadata=(("authorization", f"Bearer {token}"),),
        )
        try:
            async for reply in call:
                kind = reply.WhichOneof("event")
                if kind == "ready":
                    self._user_id = reply.ready.user_id
                    self._refused = 0
                    self._last_reason = None
                    self.backoff.reset()
                    if resumed:
                        self.out.notice("reconnected; resuming")
                elif kind in FRAME_TYPES:
                    event = grpc_api.as_json(getattr(reply, kind))
                    await self.take({"type": FRAME_TYPES[kind], **event})
            await self._pause("the server ended the stream")
        except grpc.aio.AioRpcError as error:
            code = error.code()
            if code is grpc.StatusCode.UNAUTHENTICATED:
                await self._renew(token)
            elif code is grpc.StatusCode.UNIMPLEMENTED:
                raise ApiError(
                    f"the gRPC server at {self.client.target} serves no Subscribe"
                ) from None
            else:
                await self._pause(f"{error.details()} (gRPC {code.name})")
        except ApiError as exc:  # a history or chat lookup while following failed
            await self._pause(str(exc))
