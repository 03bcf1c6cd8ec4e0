"""Checking answers against docs/api.md's error shape, and the bad input both services'
suites send: one copy, so the auth and chat suites hold every route to the same contract.

docs/api.md: an error is an RFC 9457 problem details object (`application/problem+json`)
with `type`, `title`, `status` and a string `detail`, and, for the clients written before
problem details, an int `status_code` equal to `status`; validation errors also name the
offending field (in `detail` and in an `errors` list).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

NOT_STRINGS: tuple[Any, ...] = (42, 4.2, True, [], ["x"], {"a": "b"}, {"nested": {"x": [1]}})
"""JSON values of every other type for a string field (`null` is left to each route: an
optional field may take it)."""
# JSON strings no UTF-8 text can hold: lone surrogate escapes, then raw bytes that are not
# UTF-8 (an encoded surrogate, an overlong NUL, a stray 0xff or 0xfe).
UNDECODABLE_STRINGS = (
    b'"\\ud800"',
    b'"\\udfff"',
    b'"abc\\ud800def"',
    b'"\\ud800\\ud800"',
    b'"\\udc00\\ud800"',
    b'"\xed\xa0\x80"',
    b'"\xc0\x80"',
    b'"\xff"',
    b'"abc\xfe"',
)

# -- the error shape ------------------------------------------------------------------------


def problem(response: httpx.Response, *expected: int) -> dict[str, Any]:
    """The body of a 4xx answer, checked against docs/api.md's error shape."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    if expected:
        assert response.status_code in expected, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert_error_shape(response.status_code, body)
    return body


def unavailable(response: httpx.Response, dependency: str) -> dict[str, Any]:
    """A 503 problem that names the dead `dependency` (docs/api.md)."""
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert_error_shape(503, body)
    assert body["detail"] == f"{dependency} unavailable"
    assert body["title"] == "Service Unavailable"
    return body


def assert_error_shape(status: int, body: Any) -> None:
    """For answers that did not come through httpx (raw sockets, stream frames)."""
    assert isinstance(body, dict), body
    assert type(body["status_code"]) is int
    assert body["status_code"] == status
    assert body["status"] == status
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"].strip()
    assert isinstance(body["detail"], str)
    assert body["detail"].strip()


def invalid(response: httpx.Response, field_name: str) -> dict[str, Any]:
    """A 422 that names `field_name` in its `detail` and in its `errors` list."""
    body = problem(response, 422)
    assert field_name in body["detail"], body
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    assert all(isinstance(error["message"], str) and error["message"] for error in errors)
    assert any(
        field_name in str(error["field"]) or field_name in error["message"] for error in errors
    ), errors
    return body


def not_a_server_error(response: httpx.Response) -> None:
    """Any answer below 500; an error answer in the contract's shape."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        problem(response)


@contextmanager
def case(*inputs: Any) -> Iterator[None]:
    """Name the looped-over input in a failure, as a parametrize id would."""
    try:
        yield
    except AssertionError as exc:
        exc.add_note("input: " + ", ".join(f"{value!r:.120}" for value in inputs))
        raise


# -- building bad bodies --------------------------------------------------------------------


def with_field(body: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    return {**body, name: value}


def with_raw_field(body: dict[str, Any], name: str, raw: bytes) -> bytes:
    """`body` as JSON bytes with the value of `name` replaced by `raw`, unescaped."""
    marker = f"__raw_{uuid.uuid4().hex}__"
    encoded = json.dumps(with_field(body, name, marker)).encode()
    return encoded.replace(f'"{marker}"'.encode(), raw)


# -- generated input ------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    # Past 64 bits: no database integer column holds these.
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON document, small."""
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
"""Each example is a request to a live server (a fixture built once per test, not per
example, which is what the health check warns about), so no per-example deadline."""
