"""Route handlers of docs/api.md "Attachments": uploads, downloads, and chat's own upload
route for the local file store (the embedded default; `storage.files.LocalStore`)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Redirect, Stream
from litestar.status_codes import HTTP_201_CREATED, HTTP_302_FOUND

from parley_chat.api import schemas
from parley_chat.domain.service import Caller, ChatService
from parley_chat.storage import files
from parley_core import names, web

AttachmentIdPath = Annotated[uuid.UUID, PathParameter()]

MAX_UPLOAD_BYTES = 5 * 2**40
"""The route's own body limit; the signed URL holds each upload to its declared size."""

NOSNIFF = {"X-Content-Type-Options": "nosniff"}
"""docs/api.md: every download, so a browser never guesses a type the list refused."""


class AttachmentsController(Controller):
    path = "/v1/attachments"
    tags = ("attachments",)

    @post(
        "/",
        status_code=HTTP_201_CREATED,
        responses=web.errors(400, 401, 403, 413, 422, 503),
    )
    async def create_upload(
        self,
        data: JSONBody[schemas.UploadBody],
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> schemas.UploadOut:
        upload = await chats.create_upload(
            caller, filename=data.filename, content_type=data.content_type, size=data.size
        )
        return schemas.UploadOut.of(upload)

    @put(
        "/{attachment_id:uuid}/upload",
        request_max_body_size=MAX_UPLOAD_BYTES,
        responses=web.errors(400, 403, 404, 422),
        description="The local file store's upload URL (as `upload_url` gives it, signed "
        "and short-lived): the body is the file, exactly `size` bytes.",
    )
    async def upload(
        self,
        attachment_id: AttachmentIdPath,
        request: Request[Any, Any, Any],
        chats: NamedDependency[ChatService],
        tenant: Annotated[str, QueryParameter(pattern=names.SLUG_PATTERN)],
        size: Annotated[int, QueryParameter(ge=0, le=MAX_UPLOAD_BYTES)],
        expires: Annotated[int, QueryParameter(ge=0)],
        token: Annotated[str, QueryParameter(pattern=r"^[A-Za-z0-9_-]{1,100}$")],
    ) -> None:
        await chats.receive_upload(
            attachment_id,
            tenant=tenant,
            size=size,
            expires=expires,
            token=token,
            body=request.stream(),
        )

    @get(
        "/{attachment_id:uuid}",
        responses={
            302: web.also(str, "A short-lived URL of the object store holding the file"),
            **web.errors(400, 401, 404, 422, 503),
        },
        description="The file: 200 with its bytes (chat's own store), or 302 to a "
        "short-lived URL (an object store). 404 unless the caller uploaded it or is a "
        "member now of a chat it was sent in.",
    )
    async def download(
        self,
        attachment_id: AttachmentIdPath,
        caller: NamedDependency[Caller],
        chats: NamedDependency[ChatService],
    ) -> Response[Any]:
        target, shown, size = await chats.download(caller, attachment_id)
        if target.redirect is not None:
            return Redirect(
                target.redirect,
                status_code=HTTP_302_FOUND,
                headers={**NOSNIFF, "Cache-Control": "no-store"},
            )
        assert target.path is not None
        return Stream(
            files.chunks_of(target.path),
            media_type=shown.content_type,
            headers={
                **NOSNIFF,
                "Content-Disposition": shown.content_disposition,
                "Content-Length": str(size),
                "Cache-Control": "private, no-store",
            },
        )
