"""A typed client of docs/api.md's HTTP routes, and nothing else of the server's.

It sends requests, turns error answers and unreachable servers into `parley_cli.errors`,
and on a 401 rotates the token pair once through `Credentials` and retries. The JSON it
returns is typed with the contract's shapes (`parley_cli.shapes`, re-exported here): the
server is trusted to keep its contract, so bodies are not validated field by field, but
anything that is not the expected kind of JSON is reported as an unexpected answer rather
than a traceback. What takes more than one request, such as history longer than a page or
a tenant changed field by field, is done here too, so commands make single calls.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

import httpx

from parley_cli.errors import ApiError, AuthError, UsageError
from parley_cli.shapes import (
    Attachment,
    Chat,
    Limits,
    Member,
    Message,
    Page,
    Presence,
    SearchPage,
    SearchResult,
    Tenant,
    TokenPair,
    Upload,
    User,
)

__all__ = [
    "MAX_PAGE",
    "STREAM_PATH",
    "Attachment",
    "Chat",
    "Client",
    "Credentials",
    "Limits",
    "Member",
    "Message",
    "Page",
    "Presence",
    "SearchPage",
    "SearchResult",
    "Tenant",
    "TokenPair",
    "Upload",
    "User",
    "check_server_url",
    "stream_url",
]

STREAM_PATH = "/v1/stream"
MAX_PAGE = 200
"""docs/api.md: `limit` is at most 200."""
MAX_PRESENCE_IDS = 100
"""docs/api.md "Presence": at most 100 `user_id`s a request."""


class Credentials(Protocol):
    """Where the access token comes from, and how a rejected one is replaced."""

    def access_token(self) -> str:
        """The current access token; raises `AuthError` when there is none."""
        ...

    def rotate(self, stale: str, exchange: Callable[[str], TokenPair]) -> str:
        """A fresh access token in place of `stale`, obtained by calling `exchange` with
        the refresh token (unless someone else already did), and kept."""
        ...


def stream_url(server: str) -> str:
    scheme, rest = server.split("://", 1)
    return ("wss" if scheme == "https" else "ws") + "://" + rest.rstrip("/") + STREAM_PATH


def check_server_url(server: str) -> str:
    """`server` without a trailing slash, or a usage error saying what is wrong with it."""
    parsed = urllib.parse.urlsplit(server)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise UsageError(f"invalid server URL {server!r}: expected http://HOST[:PORT]")
    return server.rstrip("/")


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class Client:
    """One server. User routes need `credentials`; `/internal` routes need `admin_token`."""

    def __init__(
        self,
        server: str,
        *,
        credentials: Credentials | None = None,
        admin_token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.server = check_server_url(server)
        self.credentials = credentials
        self._admin_token = admin_token
        self._http = httpx.Client(
            base_url=self.server,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": "parley-cli"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- auth -----------------------------------------------------------------------------

    def register(
        self, tenant: str, username: str, password: str, display_name: str | None = None
    ) -> User:
        body: dict[str, str] = {"tenant": tenant, "username": username, "password": password}
        if display_name:
            body["display_name"] = display_name
        response = self._send("POST", "/v1/auth/register", json=body)
        if response.status_code == 403:
            raise AuthError(f"registration refused: {_detail(response)}")
        return cast(User, self._json(response, dict))

    def login(self, tenant: str, username: str, password: str) -> TokenPair:
        body = {"tenant": tenant, "username": username, "password": password}
        response = self._send("POST", "/v1/auth/login", json=body)
        # docs/api.md: the same 401 whether or not the user exists.
        if response.status_code == 401:
            raise AuthError("login failed: wrong tenant, username or password")
        if response.status_code == 403:
            raise AuthError(f"login refused: {_detail(response)}")
        return cast(TokenPair, self._json(response, dict))

    def refresh(self, refresh_token: str) -> TokenPair:
        response = self._send("POST", "/v1/auth/refresh", json={"refresh_token": refresh_token})
        if response.status_code == 401:
            raise AuthError("the session has expired or was ended; run 'parley login'")
        return cast(TokenPair, self._json(response, dict))

    def logout(self, refresh_token: str) -> None:
        response = self._send("POST", "/v1/auth/logout", json={"refresh_token": refresh_token})
        if response.status_code != 401:  # already ended: logging out again is no error
            self._check(response)

    def me(self) -> User:
        return cast(User, self._user("GET", "/v1/auth/me", dict))

    def update_profile(self, display_name: str) -> User:
        body = {"display_name": display_name}
        return cast(User, self._user("PATCH", "/v1/auth/me", dict, json=body))

    def change_password(self, current: str, new: str) -> None:
        """One attempt, never retried: a 401 here means a wrong current password, which
        the server counts as a failed login, so it must not be sent twice."""
        self.me()  # a fresh access token first, rotated if it had expired
        body = {"current_password": current, "new_password": new}
        token = self._require_credentials().access_token()
        response = self._send("POST", "/v1/auth/password", token=token, json=body)
        if response.status_code == 401:
            raise AuthError("the current password is wrong")
        self._check(response)

    # -- presence -------------------------------------------------------------------------

    def presence(self, user_ids: list[str]) -> list[Presence]:
        """The presence of those of `user_ids` who share a chat with the caller (and the
        caller), in as many requests as needed."""
        found: list[Presence] = []
        for start in range(0, len(user_ids), MAX_PRESENCE_IDS):
            params = {"user_id": user_ids[start : start + MAX_PRESENCE_IDS]}
            listing = self._user("GET", "/v1/presence", dict, params=params)
            found += cast(list[Presence], _field(listing, "presence", list))
        return found

    def set_status(self, status: str) -> None:
        self._user("PUT", "/v1/presence", None, json={"status": status})

    # -- chats ----------------------------------------------------------------------------

    def chats(self) -> list[Chat]:
        listing = self._user("GET", "/v1/chats", dict)
        return cast(list[Chat], _field(listing, "chats", list))

    def chat(self, chat_id: str) -> Chat:
        return cast(Chat, self._user("GET", f"/v1/chats/{_quote(chat_id)}", dict))

    def create_chat(self, kind: str, members: list[str], title: str | None = None) -> Chat:
        body: dict[str, Any] = {"kind": kind, "members": members}
        if title is not None:
            body["title"] = title
        return cast(Chat, self._user("POST", "/v1/chats", dict, json=body))

    def add_member(self, chat_id: str, username: str) -> Member:
        path = f"/v1/chats/{_quote(chat_id)}/members"
        return cast(Member, self._user("POST", path, dict, json={"username": username}))

    def remove_member(self, chat_id: str, username: str) -> None:
        self._user("DELETE", f"/v1/chats/{_quote(chat_id)}/members/{_quote(username)}", None)

    # -- messages -------------------------------------------------------------------------

    def send(
        self,
        chat_id: str,
        body: str,
        client_msg_id: str | None = None,
        *,
        reply_to: int | None = None,
        attachments: Sequence[str] = (),
    ) -> Message:
        payload: dict[str, Any] = {"body": body, "client_msg_id": client_msg_id}
        if reply_to is not None:
            payload["reply_to"] = reply_to
        if attachments:
            payload["attachments"] = list(attachments)
        path = f"/v1/chats/{_quote(chat_id)}/messages"
        return cast(Message, self._user("POST", path, dict, json=payload))

    # -- attachments ----------------------------------------------------------------------

    def declare_upload(self, filename: str, content_type: str, size: int) -> Upload:
        body = {"filename": filename, "content_type": content_type, "size": size}
        return cast(Upload, self._user("POST", "/v1/attachments", dict, json=body))

    def upload(self, upload: Upload, chunks: Iterable[bytes]) -> None:
        """Put the bytes where `upload` says: the object store's presigned URL (no token
        of ours goes there) or this server's own upload route, as they come from `chunks`."""
        url = upload["upload_url"]
        try:
            response = self._http.request(
                upload["upload_method"],
                url if url.startswith(("http://", "https://")) else self.server + url,
                content=chunks,
                headers=upload["upload_headers"],
                timeout=httpx.Timeout(None, connect=10.0),
            )
        except httpx.TransportError as exc:
            raise ApiError(f"the upload failed ({str(exc) or type(exc).__name__})") from None
        if not response.is_success:
            raise ApiError(f"the store refused the upload (HTTP {response.status_code})")

    @contextmanager
    def download(self, attachment_url: str) -> Iterator[httpx.Response]:
        """The file at an attachment's `url`, streamed, never read whole: this server
        answers with the bytes, or with a redirect to the object store, which is followed
        without our token."""
        credentials = self._require_credentials()
        token = credentials.access_token()
        target = None
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {token}"}
            with self._http.stream("GET", attachment_url, headers=headers) as response:
                if response.status_code == 401 and attempt == 0:
                    token = credentials.rotate(token, self.refresh)
                    continue
                if response.is_redirect:
                    target = response.headers["location"]
                    break
                if not response.is_success:
                    response.read()
                    self._check(response)
                yield response
                return
        if target is None:
            raise AuthError("the server refused a freshly issued token; run 'parley login'")
        with (
            httpx.Client(timeout=httpx.Timeout(None, connect=10.0)) as store,
            store.stream("GET", target) as found,
        ):
            if not found.is_success:
                found.read()
                self._check(found)
            yield found

    def history(
        self,
        chat_id: str,
        *,
        after_seq: int | None = None,
        before_seq: int | None = None,
        limit: int | None = None,
    ) -> Page:
        params = {
            name: value
            for name, value in (
                ("after_seq", after_seq),
                ("before_seq", before_seq),
                ("limit", limit),
            )
            if value is not None
        }
        path = f"/v1/chats/{_quote(chat_id)}/messages"
        return cast(Page, self._user("GET", path, dict, params=params))

    def messages_after(self, chat_id: str, after_seq: int, limit: int) -> list[Message]:
        """Up to `limit` messages after `after_seq`, oldest first, in as many pages as needed."""
        messages: list[Message] = []
        while len(messages) < limit:
            page = self.history(
                chat_id, after_seq=after_seq, limit=min(MAX_PAGE, limit - len(messages))
            )
            messages += page["messages"]
            if not page["has_more"] or not page["messages"]:
                break
            after_seq = page["messages"][-1]["seq"]
        return messages

    def messages_before(self, chat_id: str, before_seq: int, limit: int) -> list[Message]:
        """The last `limit` messages before `before_seq`, oldest first, in as many pages as
        needed (each page is the newest part of what is left)."""
        messages: list[Message] = []
        while len(messages) < limit:
            page = self.history(
                chat_id, before_seq=before_seq, limit=min(MAX_PAGE, limit - len(messages))
            )
            messages[:0] = page["messages"]
            if not page["has_more"] or not page["messages"]:
                break
            before_seq = page["messages"][0]["seq"]
        return messages

    def thread(self, chat_id: str, root: int, after_seq: int, limit: int) -> Page:
        """One page of the root's replies after `after_seq`, oldest first."""
        path = f"/v1/chats/{_quote(chat_id)}/threads/{root}"
        params = {"after_seq": after_seq, "limit": limit}
        return cast(Page, self._user("GET", path, dict, params=params))

    def react(self, chat_id: str, seq: int, emoji: str, *, remove: bool = False) -> None:
        path = f"/v1/chats/{_quote(chat_id)}/messages/{seq}/reactions/{_quote(emoji)}"
        self._user("DELETE" if remove else "PUT", path, None)

    def edit(self, chat_id: str, seq: int, body: str) -> Message:
        path = f"/v1/chats/{_quote(chat_id)}/messages/{seq}"
        return cast(Message, self._user("PATCH", path, dict, json={"body": body}))

    def delete_message(self, chat_id: str, seq: int) -> None:
        self._user("DELETE", f"/v1/chats/{_quote(chat_id)}/messages/{seq}", None)

    def mark_read(self, chat_id: str, seq: int) -> None:
        self._user("POST", f"/v1/chats/{_quote(chat_id)}/read", None, json={"seq": seq})

    def search(
        self,
        q: str,
        *,
        chat_id: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SearchPage:
        """One page of `GET /v1/search`, newest first."""
        given = {"q": q, "chat_id": chat_id, "limit": limit, "cursor": cursor}
        params = {name: value for name, value in given.items() if value is not None}
        return cast(SearchPage, self._user("GET", "/v1/search", dict, params=params))

    # -- the stream's token ---------------------------------------------------------------

    def access_token(self) -> str:
        return self._require_credentials().access_token()

    def renew(self, stale: str) -> str:
        """A new access token after the server refused `stale` (the stream's 4401)."""
        return self._require_credentials().rotate(stale, self.refresh)

    # -- admin (/internal) ----------------------------------------------------------------

    def put_tenant(self, slug: str, spec: Mapping[str, Any]) -> tuple[Tenant, bool]:
        """The tenant as stored, and whether it was created (201) rather than updated.

        docs/api.md: the body is the whole tenant; fields left out take their defaults.
        """
        response = self._admin("PUT", f"/internal/v1/tenants/{_quote(slug)}", json=spec)
        return cast(Tenant, self._json(response, dict)), response.status_code == 201

    def merge_tenant(
        self, slug: str, settings: Mapping[str, Any], limits: Mapping[str, int]
    ) -> tuple[Tenant, bool]:
        """Create or update `slug`, changing only the `settings` and `limits` given: the
        rest keeps its stored value, or the server's default for a new tenant.

        docs/api.md: PUT replaces the whole tenant, so the stored one is read first and
        the changes are applied on top of it.
        """
        current = self.find_tenant(slug)
        spec: dict[str, Any] = {}
        merged_limits: dict[str, Any] = {}
        if current is not None:
            spec = {
                "display_name": current["display_name"],
                "self_registration": current["self_registration"],
                "suspended": current["suspended"],
            }
            merged_limits = dict(current["limits"])
        spec.update(settings)
        merged_limits.update(limits)
        if merged_limits:
            spec["limits"] = merged_limits
        return self.put_tenant(slug, spec)

    def get_tenant(self, slug: str) -> Tenant:
        response = self._admin("GET", f"/internal/v1/tenants/{_quote(slug)}")
        return cast(Tenant, self._json(response, dict))

    def find_tenant(self, slug: str) -> Tenant | None:
        try:
            return self.get_tenant(slug)
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    def delete_tenant(self, slug: str) -> None:
        self._admin("DELETE", f"/internal/v1/tenants/{_quote(slug)}")

    def create_server_key(self, slug: str, name: str) -> dict[str, Any]:
        """docs/api.md "Tenant backends": the new key, whose secret only this answer holds."""
        path = f"/internal/v1/tenants/{_quote(slug)}/server-keys"
        return self._json(self._admin("POST", path, json={"name": name}), dict)

    def server_keys(self, slug: str) -> list[dict[str, Any]]:
        path = f"/internal/v1/tenants/{_quote(slug)}/server-keys"
        return _field(self._json(self._admin("GET", path), dict), "server_keys", list)

    def revoke_server_key(self, slug: str, key_id: str) -> None:
        self._admin("DELETE", f"/internal/v1/tenants/{_quote(slug)}/server-keys/{_quote(key_id)}")

    # -- plumbing -------------------------------------------------------------------------

    def _require_credentials(self) -> Credentials:
        if self.credentials is None:
            raise AuthError("not logged in; run 'parley login'")
        return self.credentials

    def _user(
        self, method: str, path: str, expect: type[dict[str, Any]] | None, **options: Any
    ) -> dict[str, Any]:
        """A request as the logged-in user: on a 401, rotate the pair once and retry."""
        credentials = self._require_credentials()
        token = credentials.access_token()
        response = self._send(method, path, token=token, **options)
        if response.status_code == 401:
            token = credentials.rotate(token, self.refresh)
            response = self._send(method, path, token=token, **options)
            if response.status_code == 401:
                raise AuthError("the server refused a freshly issued token; run 'parley login'")
        if expect is None:
            self._check(response)
            return {}
        return self._json(response, expect)

    def _admin(self, method: str, path: str, **options: Any) -> httpx.Response:
        if not self._admin_token:
            raise AuthError(
                "no admin token: pass --admin-token, set PARLEY_ADMIN_TOKEN, "
                "or save one with 'parley admin login'"
            )
        response = self._send(method, path, token=self._admin_token, **options)
        if response.status_code == 401:
            raise AuthError(f"the server at {self.server} refused the admin token")
        return self._check(response)

    def _send(
        self, method: str, path: str, *, token: str | None = None, **options: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return self._http.request(method, path, headers=headers, **options)
        except httpx.TimeoutException:
            raise ApiError(f"the server at {self.server} did not answer in time") from None
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ApiError(f"cannot reach server at {self.server} ({reason})") from None

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_success:
            return response
        status = response.status_code
        message = f"{_detail(response)} (HTTP {status})"
        if status == 429:
            retry_after = response.headers.get("Retry-After")
            if retry_after:
                message += f"; try again in {retry_after} s"
        raise ApiError(message, status=status)

    def _json(self, response: httpx.Response, expect: type[dict[str, Any]]) -> dict[str, Any]:
        self._check(response)
        try:
            value = response.json()
        except ValueError:
            value = None
        if not isinstance(value, expect):
            raise ApiError(
                f"unexpected answer from {self.server}{response.request.url.path} "
                f"(HTTP {response.status_code}); is it a Parley server?",
                status=response.status_code,
            )
        return value


def _detail(response: httpx.Response) -> str:
    # docs/api.md: an error is a JSON object with at least `status_code` and `detail`.
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"]:
        detail: str = body["detail"]
        return " ".join(detail.split())  # one line, whatever the server wrote
    return response.reason_phrase or "error"


def _field(value: Mapping[str, Any], name: str, expect: type[list[Any]]) -> list[Any]:
    item = value.get(name)
    if not isinstance(item, expect):
        raise ApiError(f"unexpected answer from the server: no {name!r} list")
    return item
