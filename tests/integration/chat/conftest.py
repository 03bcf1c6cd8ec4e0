"""Fixtures the chat route suites share, beside tests/integration/conftest.py's servers."""

from __future__ import annotations

import pytest

from support.chat import ChatApi
from support.chat_inputs import ROOMY, Scene


@pytest.fixture
def scene(chats: ChatApi) -> Scene:
    alice, bob, carol = chats.users(3, chats.tenant(**ROOMY))
    chat = chats.group(alice, bob)
    chats.send(alice, chat["id"], "first")
    return Scene(chat["id"], alice, bob, carol)
