"""The chat domain on a SQLite file (tests/unit/chat): what each test module shares.

A ChatService with an in-memory directory in place of auth and a publisher that keeps
what it was given: the chat rules, exercised without HTTP."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from parley_chat.domain import limits
from parley_chat.domain.directory import TenantPolicy, UserRef
from parley_chat.domain.events import ChatEvent
from parley_chat.domain.service import Caller, ChatService
from parley_chat.storage import files
from parley_chat.storage import migrations as history
from parley_core import db, ratelimit
from parley_core import migrations as core_migrations

T = TypeVar("T")
TENANT = "acme"


@dataclass
class Directory:
    """What auth would answer: the users of one tenant and its policy."""

    policy_of: TenantPolicy = field(default_factory=lambda: TenantPolicy(120, 4000, False))
    by_name: dict[str, UserRef] = field(default_factory=dict)

    async def users(self, tenant: str, usernames: Collection[str]) -> dict[str, UserRef]:
        assert tenant == TENANT
        return {name: self.by_name[name] for name in usernames if name in self.by_name}

    async def policy(self, tenant: str) -> TenantPolicy | None:
        return self.policy_of if tenant == TENANT else None


@dataclass
class Published:
    events: list[ChatEvent] = field(default_factory=list)

    async def publish(self, event: ChatEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


@dataclass
class Scene:
    chats: ChatService
    directory: Directory
    published: Published

    def user(self, username: str) -> Caller:
        """A user of the tenant, known to the directory from now on."""
        ref = self.directory.by_name.setdefault(username, UserRef(uuid.uuid4(), username))
        return Caller(TENANT, ref.id, username)


Run = Callable[[Callable[[Scene], Awaitable[T]]], T]


def runner_on(tmp_path: Path) -> Run[object]:
    """Run a coroutine against a fresh ChatService on its own loop and database."""
    return runner_for(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")


def runner_for(url: str) -> Run[object]:
    """Run a coroutine against a fresh ChatService on its own loop and the database at `url`."""
    core_migrations.upgrade(history.PACKAGE, url)

    def runner(body: Callable[[Scene], Awaitable[object]]) -> object:
        async def main() -> object:
            engine = db.create_engine(url)
            counter = ratelimit.MemoryCounter()
            directory, published = Directory(), Published()
            with tempfile.TemporaryDirectory() as attachments:
                chats = ChatService(
                    sessions=db.sessionmaker(engine),
                    directory=directory,
                    send_counter=counter,
                    action_limits=limits.Limits(counter, {}),
                    publisher=published,
                    files=files.LocalStore(Path(attachments)),
                )
                try:
                    return await body(Scene(chats, directory, published))
                finally:
                    await engine.dispose()

        return asyncio.run(main())

    return runner
