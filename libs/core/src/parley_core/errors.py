"""Outcomes that become HTTP errors. Domain code raises these without knowing HTTP; the
edge (`parley_core.web.exception_handlers`) renders them in docs/api.md's error shape.
"""

from __future__ import annotations

from collections.abc import Mapping


class ApiError(Exception):
    """A domain outcome an edge maps to a status; raise a subclass, never this. A subclass
    names its status and default detail where it names its base:
    `class Gone(ApiError, status_code=410, detail="gone")`."""

    status_code = 400
    detail = "request refused"

    def __init_subclass__(
        cls, *, status_code: int | None = None, detail: str | None = None
    ) -> None:
        super().__init_subclass__()
        if status_code is not None:
            cls.status_code = status_code
        if detail is not None:
            cls.detail = detail

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        self.detail = detail or type(self).detail
        self.headers = dict(headers or {})
        super().__init__(self.detail)


class Unauthorized(ApiError, status_code=401, detail="authentication required"): ...


class Forbidden(ApiError, status_code=403, detail="forbidden"): ...


class NotFound(ApiError, status_code=404, detail="not found"): ...


class Conflict(ApiError, status_code=409, detail="conflict"): ...


class TooManyRequests(ApiError, status_code=429, detail="too many requests"):
    def __init__(self, detail: str | None = None, *, retry_after: int):
        self.retry_after = max(1, retry_after)
        super().__init__(detail, headers={"Retry-After": str(self.retry_after)})


class InvalidField(ApiError, status_code=422, detail="invalid value"):
    """A value that decodes but breaks a rule only the domain knows (a tenant's limit)."""

    def __init__(self, field: str, message: str, *, source: str = "body"):
        self.field = field
        self.message = message
        self.source = source
        super().__init__(f"{field}: {message}")


class DependencyUnavailable(ApiError, status_code=503):
    """A database, broker or peer service did not answer: 503 naming it."""

    def __init__(self, dependency: str):
        self.dependency = dependency
        super().__init__(f"{dependency} unavailable", headers={"Retry-After": "1"})
