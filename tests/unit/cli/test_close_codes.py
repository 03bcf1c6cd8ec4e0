"""The CLI's table of close codes against the server's: the CLI imports no server code
(parley_chat/closes.py says why), so this is what keeps the two in step."""

from __future__ import annotations

from parley_chat.closes import CloseCode
from parley_cli import stream


def test_the_cli_explains_every_code_the_server_closes_a_stream_with() -> None:
    explained = {*stream.CLOSE_REASONS, stream.CLOSE_UNAUTHORIZED}
    missing = {case.code for case in CloseCode} - explained
    assert not missing, f"parley_cli.stream.CLOSE_REASONS lacks {sorted(missing)}"


def test_the_cli_renews_its_token_on_the_code_the_server_refuses_one_with() -> None:
    assert CloseCode.UNAUTHORIZED.code == stream.CLOSE_UNAUTHORIZED
    assert CloseCode.EXPIRED.code == stream.CLOSE_UNAUTHORIZED
