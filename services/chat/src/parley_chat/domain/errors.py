"""What the chat rules refuse, each with the status docs/api.md gives it."""

from __future__ import annotations

from parley_core import errors


class ChatNotFound(errors.NotFound):
    # docs/api.md: a non-member gets 404 whether or not the chat exists.
    detail = "chat not found"


class MessageNotFound(errors.NotFound):
    detail = "message not found"


class UnknownUsers(errors.NotFound):
    def __init__(self, usernames: list[str]):
        super().__init__(f"unknown username: {', '.join(sorted(usernames))}")


class NotOwner(errors.Forbidden):
    detail = "only the chat's owner may do that"


class NotSender(errors.Forbidden):
    detail = "only the sender may change a message"


class DirectChatIsClosed(errors.Forbidden):
    detail = "a direct chat always has exactly its two members"


class AlreadyMember(errors.Conflict):
    detail = "already a member"


class TenantSuspended(errors.Forbidden):
    detail = "tenant suspended"


class TenantGone(errors.Unauthorized):
    detail = "tenant no longer exists"


class SendingTooFast(errors.TooManyRequests):
    detail = "message rate limit reached; try again later"


class MemberNotFound(errors.NotFound):
    detail = "member not found"


class LimitReached(errors.TooManyRequests):
    """A per-user limit of `parley_chat.domain.limits`; the detail names it."""

    def __init__(self, limit: str, count: int, window_seconds: int, *, retry_after: int):
        self.limit = limit
        super().__init__(
            f"rate limit {limit} reached: at most {count} in {window_seconds} s; try again later",
            retry_after=retry_after,
        )


class AttachmentNotFound(errors.NotFound):
    # docs/api.md: 404 unless the caller uploaded it or is a member of a chat it was sent in.
    detail = "attachment not found"


class AttachmentTooLarge(errors.ApiError, status_code=413):
    field = "size"
    """What is too large: gRPC's INVALID_ARGUMENT names it in its BadRequest detail."""

    def __init__(self, limit: int):
        super().__init__(f"size: larger than this tenant's max_attachment_bytes ({limit})")


class UploadRefused(errors.Forbidden):
    """docs/api.md: an expired upload URL, or a body of another size than declared."""
