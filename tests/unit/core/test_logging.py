"""parley_core.logging: JSON lines with ECS names, and no token ever written."""

from __future__ import annotations

import json
import logging

from parley_core.logging import JsonFormatter


def _line(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    line: dict[str, object] = json.loads(JsonFormatter().format(record))
    return line


def test_a_websocket_handshake_line_never_shows_the_access_token() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    line = _line(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:5", f"/v1/stream?access_token={token}"
    )
    assert token not in json.dumps(line)
    assert (
        line["message"] == '127.0.0.1:5 - "WebSocket /v1/stream?access_token=[redacted]" [accepted]'
    )


def test_other_query_parameters_survive_redaction() -> None:
    line = _line("GET /v1/users?prefix=ab&access_token=secret&limit=5")
    assert line["message"] == "GET /v1/users?prefix=ab&access_token=[redacted]&limit=5"


def test_extras_become_ecs_fields_beside_the_standard_ones() -> None:
    line = _line("login failed", tenant="acme")
    assert line["log.level"] == "info"
    assert line["log.logger"] == "uvicorn.error"
    assert line["tenant"] == "acme"
    assert "@timestamp" in line
