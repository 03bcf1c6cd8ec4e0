"""The Litestar internals `ResilientChannels` relies on (realtime/broker.py), checked
against the installed Litestar so that a release that moves them fails here, not in
production as a replica that silently stops delivering."""

from __future__ import annotations

import inspect

from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.backends.base import ChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend

from parley_chat.realtime.broker import ResilientChannels


def test_the_plugin_starts_its_subscription_worker_by_the_name_we_override() -> None:
    source = inspect.getsource(ChannelsPlugin._on_startup)
    assert "self._sub_worker()" in source
    assert inspect.iscoroutinefunction(ChannelsPlugin._sub_worker)
    assert ResilientChannels._sub_worker is not ChannelsPlugin._sub_worker


def test_the_plugin_keeps_its_backend_and_subscribers_where_we_read_them() -> None:
    plugin = ResilientChannels(redis=None)
    assert isinstance(plugin._backend, MemoryChannelsBackend)
    assert isinstance(plugin._channels, dict)


def test_a_subscription_registers_its_subscriber_under_the_channel_name() -> None:
    source = inspect.getsource(ChannelsPlugin.subscribe)
    assert "self._channels[channel]" in source
    assert hasattr(Subscriber, "put_nowait")


def test_backends_stream_events_as_channel_and_payload_pairs() -> None:
    annotation = inspect.signature(ChannelsBackend.stream_events).return_annotation
    assert "tuple[str," in str(annotation)
