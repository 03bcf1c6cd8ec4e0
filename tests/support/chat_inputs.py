"""The chat routes that take a body, with one each accepts, the fields docs/api.md gives
them and the odd values to send: what the chat bad-input suites
(tests/integration/chat/test_bad_input*.py) share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from support.chat import ChatApi, User
from support.problems import NOT_STRINGS

MAX_SEQ = 2**31 - 1
"""The largest `seq` the service keeps (a 32-bit column); larger cursors are refused."""
DEFAULT_MAX_CHARS = 4000
"""docs/api.md "Names": the default `max_message_chars`."""
ROOMY = {"limits": {"messages_per_minute": 100_000}}
"""A tenant spec whose send quota no test here runs into."""


@dataclass(frozen=True)
class Scene:
    """A group owned by alice with bob, one message from alice; carol is not a member."""

    chat_id: str
    alice: User
    bob: User
    carol: User

    @property
    def messages(self) -> str:
        return f"/v1/chats/{self.chat_id}/messages"


@dataclass(frozen=True)
class BodyRoute:
    """One route that takes a JSON body, with a body it accepts."""

    method: str
    path: str
    body: dict[str, Any]
    success: int

    def send_json(self, chats: ChatApi, user: User, body: Any) -> httpx.Response:
        return chats.http.request(self.method, self.path, json=body, headers=user.headers)

    def send_bytes(self, chats: ChatApi, user: User, content: bytes) -> httpx.Response:
        headers = {**user.headers, "Content-Type": "application/json"}
        return chats.http.request(self.method, self.path, content=content, headers=headers)


def body_route(scene: Scene, name: str) -> BodyRoute:
    chat = f"/v1/chats/{scene.chat_id}"
    return {
        "create a chat": BodyRoute(
            "POST",
            "/v1/chats",
            {"kind": "group", "title": "t", "members": [scene.bob.username]},
            201,
        ),
        "add a member": BodyRoute(
            "POST", f"{chat}/members", {"username": scene.carol.username}, 201
        ),
        "send": BodyRoute("POST", f"{chat}/messages", {"body": "hello"}, 201),
        "edit": BodyRoute("PATCH", f"{chat}/messages/1", {"body": "edited"}, 200),
        "mark read": BodyRoute("POST", f"{chat}/read", {"seq": 1}, 204),
    }[name]


BODY_ROUTES = ("create a chat", "add a member", "send", "edit", "mark read")
REQUIRED_FIELDS = {
    "create a chat": ("kind", "members"),
    "add a member": ("username",),
    "send": ("body",),
    "edit": ("body",),
    "mark read": ("seq",),
}
WRONG_TYPES: dict[str, tuple[Any, ...]] = {
    "kind": (*NOT_STRINGS, None),
    "title": NOT_STRINGS,
    "members": ("alice", 42, None, True, {"a": "b"}, [42], [None], [["abc"]], [{"u": "abc"}]),
    "username": (*NOT_STRINGS, None),
    "body": (*NOT_STRINGS, None),
    "client_msg_id": NOT_STRINGS,
    # Booleans are not numbers; "1" would pass as 1 (Litestar decodes in lax mode).
    "reply_to": ("one", 1.5, True, False, [], [1], {"seq": 1}, 0, -1, 2**31),
    "seq": ("one", 1.5, True, False, None, [], [1], {"seq": 1}),
}
ROUTE_FIELDS = {
    "create a chat": ("kind", "title", "members"),
    "add a member": ("username",),
    "send": ("body", "client_msg_id", "reply_to"),
    "edit": ("body",),
    "mark read": ("seq",),
}
STRING_FIELDS = {
    "create a chat": ("kind", "title"),
    "add a member": ("username",),
    "send": ("body", "client_msg_id"),
    "edit": ("body",),
}
# Visible text from all over Unicode: each must come back exactly as sent.
ROUND_TRIP_BODIES = (
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family: ZWJ sequence
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: variation selector and ZWJ
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # technologist with a skin tone
    "\U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1",
    "\U0001f1fa\U0001f1e6\U0001f1ef\U0001f1f5",  # regional-indicator flags
    "مرحبا بالعالم",
    "שלום עולם",
    "\u200f\u05e9\u05dc\u05d5\u05dd\u200f",  # right-to-left marks around Hebrew
    "English, then العربية, then English again",
    "\u202bembedded \u05e2\u05d1\u05e8\u05d9\u05ea\u202c",  # RTL embedding
    "e\u0301 and n\u0303 and a\u0308\u0301\u0302",  # combining marks
    "日本語のテキストと한국어",
    "\U0001d573\U0001d58a\U0001d591\U0001d591\U0001d594",  # mathematical fraktur, astral
    "line one\nline two\r\n\tindented",
    "  padded on both sides  ",
    "\U0001f600" * DEFAULT_MAX_CHARS,
)
C0_CONTROLS = (*(chr(code) for code in range(0x20) if chr(code) not in "\t\n\r"), "\x7f")
BLANK_BODIES = (
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    " \t\n\r ",
    "\u00a0",
    "\u3000",
    "\u2003\u2009\u200a",
    "\u2028\u2029",
    "\u1680",
    " " * DEFAULT_MAX_CHARS,
)


def last_seq(chats: ChatApi, scene: Scene) -> int:
    seq: int = chats.chat(scene.alice, scene.chat_id)["last_seq"]
    return seq


# The history route's query values.
HISTORY_PARAMS = ("limit", "after_seq", "before_seq")
NOT_INTEGERS = (
    "abc",
    "",
    " ",
    "one",
    "0x10",
    "½",
    "\u0661",  # ARABIC-INDIC DIGIT ONE
    "true",
    "null",
    "[1]",
    "1,2",
    "--1",
    "\x00",
    "😀",
)
FLOATS = ("1.5", "5.0", "1e2", "2.", ".5", "NaN", "inf", "-0.0", "1E1")


def history(chats: ChatApi, scene: Scene, params: Any) -> httpx.Response:
    return chats.http.get(scene.messages, params=params, headers=scene.bob.headers)
