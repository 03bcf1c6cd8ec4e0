"""How results look: JSON with `--json`, rich tables and relative times on a terminal, and
tab-separated lines for pipes and scripts.

Plain output is for `cut`, `awk` and `while read`: one record per line, no header, full
ids and RFC 3339 times, and backslash escapes for tabs, newlines and other control
characters inside text. Text from other users is never written raw to a terminal either:
control characters are shown as escapes, so a message cannot move the cursor or retitle
the window.

Results go to stdout; progress and notices go to stderr, so pipes carry data only.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from parley_cli import api

SHORT_ID = 8
"""Characters of a chat id shown on a terminal; any unique prefix is accepted back."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")
_TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def plain(text: str) -> str:
    """`text` as one tab-free line: backslash escapes for `\\`, tab, newline and controls."""
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


def printable(text: str) -> str:
    """`text` safe for a terminal: newlines and tabs stay, other controls become escapes."""
    return _TERMINAL_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def relative(when: datetime, now: datetime) -> str:
    seconds = int((now - when).total_seconds())
    if seconds < 10:
        return "just now"  # also absorbs small clock differences with the server
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400}d ago"
    return when.astimezone().strftime("%Y-%m-%d")


def clock(when: datetime, now: datetime) -> str:
    """Local wall-clock time, with the date when it is not today."""
    local = when.astimezone()
    if local.date() == now.astimezone().date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M")


def chat_label(chat: api.Chat, me: str | None = None) -> str:
    """What a person calls a chat: its title, `@user` for a direct chat, or its members."""
    if chat["title"]:
        return chat["title"]
    others = [m["username"] for m in chat["members"] if m["username"] != me]
    if chat["kind"] == "direct":
        return "@" + (others[0] if others else me or "?")
    return ", ".join(others) or "(no title)"


def usernames(chats: Iterable[api.Chat]) -> dict[str, str]:
    """Each member's username by user id, as the chats list them."""
    return {m["user_id"]: m["username"] for chat in chats for m in chat["members"]}


def last_activity(chat: api.Chat) -> str:
    return chat.get("last_activity_at") or chat["created_at"]


def message_state(message: api.Message) -> str:
    """The last column of a plain message row: `deleted` or `edited`, then `reply to #N`,
    the thread and the reactions, comma-separated (empty for a plain message)."""
    parts = ["deleted" if message["deleted"] else "edited" if message["edited_at"] else ""]
    if (root := message.get("reply_to")) is not None:
        parts.append(f"reply to #{root}")
    parts.append(summary(message))
    return ", ".join(part for part in parts if part)


class Output:
    """One command's stdout (and stderr for notices), in the mode the command was run in."""

    def __init__(
        self,
        *,
        json_mode: bool = False,
        tty: bool | None = None,
        out: TextIO | None = None,
        err: TextIO | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.json_mode = json_mode
        self.tty = self.out.isatty() if tty is None else tty
        self.now = now
        self._console = Console(file=self.out, force_terminal=True, highlight=False, soft_wrap=True)

    # -- primitives -----------------------------------------------------------------------

    def json(self, value: object) -> None:
        self._line(json.dumps(value, indent=2, ensure_ascii=False))

    def json_line(self, value: object) -> None:
        self._line(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def row(self, *fields: object) -> None:
        self._line("\t".join(plain("" if field is None else str(field)) for field in fields))

    def notice(self, text: str) -> None:
        """Progress and confirmations, on stderr whatever the mode."""
        print(printable(text), file=self.err, flush=True)

    def rich(self, renderable: Text | Table | str) -> None:
        self._console.print(renderable)

    def _line(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- results --------------------------------------------------------------------------

    def user(self, user: api.User, context: Mapping[str, str]) -> None:
        if self.json_mode:
            self.json({**user, **context})
        elif self.tty:
            self.rich(
                Text.assemble(
                    (printable(user["username"]), "bold"),
                    " (",
                    printable(user["display_name"]),
                    ")",
                )
            )
            for name, value in [("tenant", user["tenant"]), *context.items()]:
                self.rich(Text.assemble((f"{name:>8}  ", "dim"), printable(value)))
        else:
            self.row(user["username"], user["tenant"], user["id"], *context.values())

    def chats(self, chats: list[api.Chat], me: str | None) -> None:
        if self.json_mode:
            self.json(chats)
        elif self.tty:
            table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False)
            table.add_column("ID", style="cyan", no_wrap=True)
            table.add_column("TITLE")
            table.add_column("UNREAD", justify="right")
            table.add_column("LAST ACTIVITY", style="dim")
            now = self.now()
            for chat in chats:
                unread = chat["unread"]
                table.add_row(
                    chat["id"][:SHORT_ID],
                    Text(printable(chat_label(chat, me)), style="bold" if unread else ""),
                    Text(str(unread), style="bold yellow") if unread else Text("0", style="dim"),
                    relative(parse_time(last_activity(chat)), now),
                )
            if chats:
                self.rich(table)
            else:
                self.notice(
                    "No chats yet: start one with 'parley chat create' or 'parley chat dm'."
                )
        else:
            for chat in chats:
                self.row(chat["id"], chat_label(chat, me), chat["unread"], last_activity(chat))

    def chat(self, chat: api.Chat, me: str | None, verb: str) -> None:
        if self.json_mode:
            self.json(chat)
        elif self.tty:
            label = printable(chat_label(chat, me))
            self.rich(
                Text.assemble(
                    f"{verb} ", (label, "bold"), " (", (chat["id"][:SHORT_ID], "cyan"), ")"
                )
            )
        else:
            self._line(chat["id"])

    def members(self, chat: api.Chat) -> None:
        if self.json_mode:
            self.json(chat["members"])
        elif self.tty:
            table = Table(box=box.SIMPLE_HEAD, header_style="bold", show_edge=False)
            for column in ("USERNAME", "ROLE", "JOINED"):
                table.add_column(column)
            now = self.now()
            for member in chat["members"]:
                joined = relative(parse_time(member["joined_at"]), now)
                table.add_row(printable(member["username"]), member["role"], joined)
            self.rich(table)
        else:
            for member in chat["members"]:
                self.row(member["username"], member["role"], member["user_id"], member["joined_at"])

    def messages(self, messages: Iterable[api.Message]) -> None:
        messages = list(messages)
        if self.json_mode:
            self.json(messages)
        elif self.tty:
            now = self.now()
            width = max((len(str(m["seq"])) for m in messages), default=1) + 1
            for message in messages:
                when = relative(parse_time(message["created_at"]), now)
                self.rich(
                    Text.assemble(
                        (f"#{message['seq']}".rjust(width), "dim"),
                        "  ",
                        (f"{when:>9}", "dim"),
                        "  ",
                        *_message_body(message),
                    )
                )
        else:
            for message in messages:
                self.row(
                    message["seq"],
                    message["created_at"],
                    message["sender_username"],
                    message["body"],
                    message_state(message),
                )

    def search_results(
        self, results: list[api.SearchResult], labels: Mapping[str, str], next_cursor: str | None
    ) -> None:
        """`parley search`: each result with its chat, newest first; in JSON the page."""
        if self.json_mode:
            self.json({"results": results, "next_cursor": next_cursor})
        elif self.tty:
            if not results:
                self.notice("No messages found.")
            now = self.now()
            for result in results:
                message = result["message"]
                label = labels.get(result["chat_id"], result["chat_id"][:8])
                when = relative(parse_time(message["created_at"]), now)
                self.rich(
                    Text.assemble(
                        (printable(label), "cyan"),
                        " ",
                        (f"#{message['seq']}", "dim"),
                        "  ",
                        (f"{when:>9}", "dim"),
                        "  ",
                        *_message_body(message),
                    )
                )
        else:
            for result in results:
                message = result["message"]
                self.row(
                    result["chat_id"],
                    message["seq"],
                    message["created_at"],
                    message["sender_username"],
                    message["body"],
                )

    def message(self, message: api.Message, verb: str, label: str) -> None:
        """The result of `send` or `edit`: the stored message."""
        if self.json_mode:
            self.json(message)
        elif self.tty:
            self.rich(
                Text.assemble(
                    f"{verb} ", (f"#{message['seq']}", "cyan"), " in ", (printable(label), "bold")
                )
            )
        else:
            self._line(str(message["seq"]))

    def tenant(self, tenant: api.Tenant) -> None:
        if self.json_mode:
            self.json(tenant)
            return
        fields: list[tuple[str, Any]] = [
            ("slug", tenant["slug"]),
            ("display_name", tenant["display_name"]),
            ("self_registration", tenant["self_registration"]),
            ("suspended", tenant["suspended"]),
            *((f"limits.{key}", value) for key, value in tenant["limits"].items()),
            *((f"usage.{key}", value) for key, value in tenant.get("usage", {}).items()),
            ("id", tenant["id"]),
            ("created_at", tenant["created_at"]),
            ("updated_at", tenant["updated_at"]),
        ]
        if self.tty:
            width = max(len(name) for name, _ in fields)
            for name, value in fields:
                self.rich(Text.assemble((f"{name:>{width}}  ", "dim"), printable(_scalar(value))))
        else:
            for name, value in fields:
                self.row(name, _scalar(value))

    def presence(self, entries: list[api.Presence], names: Mapping[str, str]) -> None:
        """`parley presence`: each user's status and when they were last seen."""
        if self.json_mode:
            self.json([{**entry, "username": names.get(entry["user_id"])} for entry in entries])
            return
        now = self.now()
        for entry in entries:
            name = names.get(entry["user_id"], entry["user_id"])
            seen = entry["last_seen_at"]
            if self.tty:
                when = f"last seen {relative(parse_time(seen), now)}" if seen else "never seen"
                detail = "" if entry["status"] != "offline" else when
                self.rich(
                    Text.assemble(
                        (f"{printable(name)} ", "bold"),
                        (entry["status"], _STATUS_STYLES.get(entry["status"], "")),
                        (f"  {detail}" if detail else "", "dim"),
                    )
                )
            else:
                self.row(name, entry["user_id"], entry["status"], seen)

    def fields(self, fields: Mapping[str, Any]) -> None:
        """Named values, one a line (`parley auth status`)."""
        if self.json_mode:
            self.json(dict(fields))
        elif self.tty:
            width = max(len(name) for name in fields)
            for name, value in fields.items():
                self.rich(Text.assemble((f"{name:>{width}}  ", "dim"), printable(_scalar(value))))
        else:
            for name, value in fields.items():
                self.row(name, _scalar(value))

    def profiles(self, profiles: list[dict[str, Any]]) -> None:
        """`parley profiles`: the profile in use marked `*`."""
        if self.json_mode:
            self.json(profiles)
            return
        for profile in profiles:
            self.row(
                "*" if profile["current"] else " ",
                profile["name"],
                profile["server"],
                profile["tenant"],
                profile["username"] or "-",
                "logged in" if profile["logged_in"] else "logged out",
            )

    # -- the stream -----------------------------------------------------------------------

    def stream_frame(self, frame: Mapping[str, Any], label: str, who: str | None = None) -> None:
        """One frame of `parley tail`, from a chat a person calls `label`; `who` names the
        user a reaction frame gives only the id of."""
        kind = frame.get("type")
        if self.json_mode:
            self.json_line(frame)
            return
        chat_id = str(frame.get("chat_id", ""))
        if kind in ("message", "message.updated"):
            message: api.Message = frame["message"]
            if self.tty:
                now = self.now()
                when = clock(parse_time(message["edited_at"] or message["created_at"]), now)
                self.rich(
                    Text.assemble(
                        (f"[{printable(label)}] ", "bold blue"),
                        (f"{when} ", "dim"),
                        (f"#{message['seq']} ", "dim"),
                        *_message_body(message),
                    )
                )
            else:
                when = message["edited_at"] or message["created_at"]
                self.row(
                    kind,
                    chat_id,
                    message["seq"],
                    when,
                    message["sender_username"],
                    message["body"],
                    message_state(message),
                )
        elif kind in ("member.joined", "member.left"):
            member: api.Member = frame["member"]
            if self.tty:
                verb = "joined" if kind == "member.joined" else "left"
                self.rich(
                    Text.assemble(
                        (f"[{printable(label)}] ", "bold blue"),
                        (f"{printable(member['username'])} {verb}", "italic dim"),
                    )
                )
            else:
                self.row(kind, chat_id, "", member["joined_at"], member["username"], "", "")
        elif kind == "reaction":
            self._reaction(frame, chat_id, label, who)
        elif kind == "presence":
            name = label or str(frame.get("user_id", ""))
            if self.tty:
                self.rich(
                    Text.assemble(
                        (f"{printable(name)} is ", "italic dim"),
                        (
                            str(frame.get("status")),
                            _STATUS_STYLES.get(str(frame.get("status")), ""),
                        ),
                    )
                )
            else:
                self.row(kind, "", "", frame.get("last_seen_at"), name, frame.get("status"), "")
        # typing is ephemeral: only the JSON stream carries it

    def _reaction(
        self, frame: Mapping[str, Any], chat_id: str, label: str, who: str | None
    ) -> None:
        name = who or str(frame["user_id"])[:SHORT_ID]
        emoji, seq, count = printable(str(frame["emoji"])), frame["seq"], frame["count"]
        if self.tty:
            verb = "reacted" if frame["op"] == "add" else "took back"
            self.rich(
                Text.assemble(
                    (f"[{printable(label)}] ", "bold blue"),
                    (f"{printable(name)} {verb} {emoji} on #{seq} ({count} now)", "italic dim"),
                )
            )
        else:
            self.row("reaction", chat_id, seq, "", name, frame["emoji"], f"{frame['op']} {count}")


def summary(message: api.Message) -> str:
    """A message's thread, reactions and files in a few characters:
    `3 replies, 👍 2 🎉 1, file plan.pdf (1.2 MiB)`."""
    parts = []
    if thread := message.get("thread"):
        replies = thread["replies"]
        parts.append(f"{replies} repl{'y' if replies == 1 else 'ies'}")
    if reactions := message.get("reactions"):
        parts.append(" ".join(f"{r['emoji']} {r['count']}" for r in reactions))
    parts += [
        f"file {attachment['filename']} ({file_size(attachment['size'])})"
        for attachment in message.get("attachments") or ()
    ]
    return printable(", ".join(parts))


def file_size(size: int) -> str:
    """`820 B`, `12.3 KiB`, `25.0 MiB`: a file's size as people read it."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{size} B"


_STATUS_STYLES = {"online": "green", "away": "yellow", "dnd": "red", "offline": "dim"}


def _message_body(message: api.Message) -> list[tuple[str, str] | str]:
    sender = (printable(message["sender_username"]), "bold")
    parts: list[tuple[str, str] | str] = []
    if (root := message.get("reply_to")) is not None:
        parts.append((f"\u21b3 #{root} ", "cyan"))
    if message["deleted"]:
        parts += [sender, " ", ("(deleted)", "italic dim")]
    else:
        parts += [sender, ": ", printable(message["body"])]
        if message["edited_at"]:
            parts.append((" (edited)", "dim"))
    if extra := summary(message):
        parts.append((f"  [{extra}]", "dim"))
    return parts


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
