"""`parley --grpc` answers in the REST shapes (parley_cli.grpc_api.as_json)."""

from __future__ import annotations

from parley_cli.grpc_api import as_json
from parley_proto.chat.v1 import chat_pb2


def test_an_attachment_reads_as_rest_writes_it() -> None:
    message = chat_pb2.Message(
        seq=1,
        attachments=[
            chat_pb2.Attachment(id="a", filename="a.txt", size=5 * 2**40, url="/v1/attachments/a"),
            chat_pb2.Attachment(
                id="b", filename="b.png", size=7, url="/v1/attachments/b", width=3, height=2
            ),
        ],
    )
    first, second = as_json(message)["attachments"]
    # A number, not the proto3 JSON mapping's text; no width or height unless an image.
    assert first["size"] == 5 * 2**40
    assert "width" not in first
    assert "height" not in first
    assert (second["size"], second["width"], second["height"]) == (7, 3, 2)
    # Elsewhere an unset optional is null, as REST writes it.
    assert as_json(message)["reply_to"] is None
