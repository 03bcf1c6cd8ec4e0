"""Parley's chat service: chats, members, the per-chat message log and the live stream."""
