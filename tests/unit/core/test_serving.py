"""`parley_core.serving`: the ready-made frames the stream writes, and the uvicorn internals
its `FrameWriter` relies on, checked against the installed uvicorn so that a release that
moves them fails here rather than in a replica that stops writing."""

from __future__ import annotations

import inspect

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from parley_core import serving
from parley_core.settings import CoreSettings


def _parsed(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("the frame did not parse")


def test_a_text_frame_parses_as_one_final_unmasked_text_frame_at_every_length_encoding() -> None:
    for size in (0, 125, 126, 65_535, 65_536, 200_000):
        payload = b"x" * size
        frame = _parsed(serving.text_frame(payload))
        assert frame.opcode is Opcode.TEXT
        assert frame.fin
        assert frame.data == payload


def test_the_protocol_keeps_the_state_the_frame_writer_reads() -> None:
    source = inspect.getsource(WebSocketsSansIOProtocol)
    for attribute in (
        "self.close_sent",
        "self.disconnected",
        "self.handshake_complete",
        "self.writable",
        "self.transport",
        "self.conn",
        "self.scope",
    ):
        assert attribute in source, attribute
    assert '"extensions":' in inspect.getsource(WebSocketsSansIOProtocol.handle_connect)


def test_servers_use_the_frame_writing_protocol_without_compression() -> None:
    config = serving.config(None, CoreSettings())
    assert config.ws is serving.FrameWritingProtocol
    assert config.ws_per_message_deflate is False
