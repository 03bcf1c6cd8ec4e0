"""parley_core.rpc's translations: msgspec's refusals to the field they name, domain
refusals to gRPC statuses with their google.rpc details."""

from __future__ import annotations

from typing import Annotated, Any

import grpc
import msgspec
import pytest
from google.rpc import error_details_pb2, status_pb2

from parley_core import rpc
from parley_core.errors import (
    ApiError,
    Conflict,
    DependencyUnavailable,
    InvalidField,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from parley_proto.auth.v1 import auth_pb2
from parley_proto.chat.v1 import chat_pb2


class Body(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=3)]
    tags: list[Annotated[str, msgspec.Meta(max_length=2)]]
    note: str | None = None


def _details(status: grpc.Status) -> tuple[status_pb2.Status, dict[str, Any]]:
    metadata = dict(status.trailing_metadata)
    proto = status_pb2.Status.FromString(metadata["grpc-status-details-bin"])
    found: dict[str, Any] = {}
    for detail in proto.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.RetryInfo,
        ):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found[kind.__name__] = message
    return proto, found


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("Expected `str` of length >= 3 - at `$.name`", "name"),
        ("Expected `str` of length <= 2 - at `$.tags[1]`", "tags[1]"),
        ("Object missing required field `name`", "name"),
        ("display_name contains control characters", "display_name"),
        ("Expected `object`, got `int`", "request"),
    ],
)
def test_a_msgspec_refusal_names_its_field(message: str, field: str) -> None:
    assert rpc.field_of(message, {"name", "display_name"})[0] == field


def test_a_request_is_decoded_by_the_rest_body_and_refused_naming_the_field() -> None:
    request = auth_pb2.RegisterRequest(tenant="t", username="ab", password="x")

    class Register(msgspec.Struct):
        username: Annotated[str, msgspec.Meta(min_length=3)]

    with pytest.raises(InvalidField) as caught:
        rpc.decode(request, Register)
    assert caught.value.field == "username"


def test_an_unset_optional_is_left_out_and_an_empty_list_is_a_list() -> None:
    class Listed(msgspec.Struct):
        members: list[str]
        title: str | None = "unset"

    decoded = rpc.decode(chat_pb2.CreateChatRequest(kind="group"), Listed)
    assert (decoded.members, decoded.title) == ([], "unset")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound(), grpc.StatusCode.NOT_FOUND),
        (Unauthorized(), grpc.StatusCode.UNAUTHENTICATED),
        (Conflict(), grpc.StatusCode.ALREADY_EXISTS),
        (InvalidField("body", "too long"), grpc.StatusCode.INVALID_ARGUMENT),
        (TooManyRequests(retry_after=7), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (DependencyUnavailable("redis"), grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_each_refusal_has_its_grpc_code(error: Exception, code: grpc.StatusCode) -> None:
    assert isinstance(error, ApiError)
    status = rpc.status_of(error)
    assert status.code == code
    proto, details = _details(status)
    assert proto.code == code.value[0]
    assert details["ErrorInfo"].domain == rpc.DOMAIN


def test_details_name_the_field_the_retry_delay_and_the_dependency() -> None:
    _, bad = _details(rpc.status_of(InvalidField("members[0]", "not a username")))
    violation = bad["BadRequest"].field_violations[0]
    assert (violation.field, violation.description) == ("members[0]", "not a username")
    assert bad["ErrorInfo"].reason == "INVALID_FIELD"
    _, limited = _details(rpc.status_of(TooManyRequests(retry_after=7)))
    assert limited["RetryInfo"].retry_delay.seconds == 7
    _, down = _details(rpc.status_of(DependencyUnavailable("database")))
    assert down["ErrorInfo"].metadata["dependency"] == "database"
    assert down["RetryInfo"].retry_delay.seconds == 1


def test_a_refusal_quoting_a_long_input_still_fits_in_trailers() -> None:
    status = rpc.status_of(InvalidField("kind", "x" * 10_000))
    assert len(status.details) <= rpc.MAX_DETAIL_CHARS
    proto, details = _details(status)
    assert len(details["BadRequest"].field_violations[0].description) <= rpc.MAX_DETAIL_CHARS
    assert len(proto.message) <= rpc.MAX_DETAIL_CHARS


def test_an_optional_number_out_of_range_is_refused_naming_it() -> None:
    assert rpc.in_range("limit", None, 1, 200) is None
    assert rpc.in_range("limit", 200, 1, 200) == 200
    with pytest.raises(InvalidField) as caught:
        rpc.in_range("limit", 0, 1, 200)
    assert caught.value.field == "limit"


class Upload(msgspec.Struct):
    filename: str
    content_type: str
    size: int


def test_a_64_bit_number_is_decoded_as_the_number_rest_takes() -> None:
    # The proto3 JSON mapping writes int64 as text; the REST body wants a number.
    request = chat_pb2.CreateAttachmentRequest(
        filename="a.bin", content_type="text/plain", size=5 * 2**40
    )
    assert rpc.decode(request, Upload) == Upload("a.bin", "text/plain", 5 * 2**40)


class TooLarge(ApiError, status_code=413):
    field = "size"


def test_a_too_large_refusal_is_invalid_argument_naming_what_is_too_large() -> None:
    status = rpc.status_of(TooLarge("size: larger than 100"))
    assert status.code is grpc.StatusCode.INVALID_ARGUMENT
    _, found = _details(status)
    (violation,) = found["BadRequest"].field_violations
    assert (violation.field, violation.description) == ("size", "size: larger than 100")
    assert found["ErrorInfo"].reason == "TOO_LARGE"
