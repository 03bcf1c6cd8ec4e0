"""Where presence is kept (domain/presence.py): streams counted per user, and each
user's chosen status. The embedded default keeps it in the process (`MemoryPresence`);
replicas keep it in Redis (`RedisPresence`), which must also notice a replica that died
without closing its streams (docs/stream.md "Presence").

Redis layout, every key under the service's prefix (`PARLEY_REDIS_PREFIX` + `chat:`) and
the hash tag `{presence}`, so that on a Redis Cluster they share a slot and the scripts
below may touch several of them:

- `...{presence}:user:<tenant>:<user id>`: a hash of `streams` (open streams on every
  replica), `chosen` (online, away, dnd) and `seen` (Unix time the streams last opened
  or closed). No expiry while streams are open; kept `KEEP_SECONDS` after the last closes,
  so a chosen status outlives reconnects.
- `...{presence}:replica:<replica id>`: a hash of `<tenant>:<user id>` to that replica's
  open streams of the user: what to take back when the replica dies.
- `...{presence}:replicas`: a sorted set of replica ids scored by the time each must
  heartbeat again by (now + `PARLEY_PRESENCE_TTL_SECONDS`).

Every change is one Lua script, so two replicas never interleave inside one. A sweep
claims a dead replica with the same script that takes its streams back, so sweepers on
several replicas never take a replica's streams back twice. A replica that was swept
while alive (it missed heartbeats: a long pause, Redis unreachable) finds itself missing
at its next heartbeat and writes its streams back (`sync`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis
import redis.exceptions

from parley_chat.domain.presence import Change, Chosen, PresenceView, Status
from parley_core.errors import DependencyUnavailable

KEEP_SECONDS = 30 * 86_400
"""How long a user's chosen status and last-seen time outlive their last stream."""
REPLICA_KEEP_SECONDS = 86_400
"""How long a replica's stream counts outlive its last heartbeat, for a sweeper to find
them even if every replica was down for a while."""


def _when(seen: float | None) -> datetime | None:
    return datetime.fromtimestamp(seen, UTC) if seen else None


@dataclass(slots=True)
class _Entry:
    streams: int = 0
    chosen: Chosen = "online"
    seen: float | None = None

    def shown(self) -> Status:
        return self.chosen if self.streams > 0 else "offline"


class MemoryPresence:
    """Presence of one process: the embedded default, where every stream is local."""

    def __init__(self) -> None:
        self._users: dict[tuple[str, uuid.UUID], _Entry] = {}

    def _change(self, tenant: str, user_id: uuid.UUID, entry: _Entry) -> Change:
        return Change(tenant, PresenceView(user_id, entry.shown(), _when(entry.seen)))

    async def connected(self, tenant: str, user_id: uuid.UUID) -> Change | None:
        entry = self._users.setdefault((tenant, user_id), _Entry())
        entry.streams += 1
        if entry.streams > 1:
            return None
        entry.seen = time.time()
        return self._change(tenant, user_id, entry)

    async def disconnected(self, tenant: str, user_id: uuid.UUID) -> Change | None:
        entry = self._users.get((tenant, user_id))
        if entry is None or entry.streams <= 0:
            return None
        entry.streams -= 1
        if entry.streams > 0:
            return None
        entry.seen = time.time()
        return self._change(tenant, user_id, entry)

    async def choose(self, tenant: str, user_id: uuid.UUID, status: Chosen) -> Change | None:
        entry = self._users.setdefault((tenant, user_id), _Entry())
        before = entry.shown()
        entry.chosen = status
        return self._change(tenant, user_id, entry) if entry.shown() != before else None

    async def read(
        self, tenant: str, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, PresenceView]:
        found = {}
        for user_id in user_ids:
            entry = self._users.get((tenant, user_id), _Entry())
            found[user_id] = PresenceView(user_id, entry.shown(), _when(entry.seen))
        return found


_CONNECT = """
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('EXPIRE', KEYS[2], ARGV[3])
local n = redis.call('HINCRBY', KEYS[1], 'streams', 1)
redis.call('PERSIST', KEYS[1])
if n < 1 then
  redis.call('HSET', KEYS[1], 'streams', 1)
  n = 1
end
if n == 1 then
  redis.call('HSET', KEYS[1], 'seen', ARGV[2])
  return {1, redis.call('HGET', KEYS[1], 'chosen') or 'online', ARGV[2]}
end
return {0}
"""

_DISCONNECT = """
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if mine <= 0 then
  return {0}  -- swept meanwhile: the sweep already took this stream back
end
if mine == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  redis.call('HINCRBY', KEYS[2], ARGV[1], -1)
end
local n = redis.call('HINCRBY', KEYS[1], 'streams', -1)
if n <= 0 then
  redis.call('HSET', KEYS[1], 'streams', 0, 'seen', ARGV[2])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return {1, 'offline', ARGV[2]}
end
return {0}
"""

_CHOOSE = """
local before = redis.call('HMGET', KEYS[1], 'chosen', 'streams', 'seen')
redis.call('HSET', KEYS[1], 'chosen', ARGV[1])
local streams = tonumber(before[2] or '0')
if streams <= 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return {0}
end
if (before[1] or 'online') == ARGV[1] then
  return {0}
end
return {1, ARGV[1], before[3] or ''}
"""

_HEARTBEAT = """
local known = redis.call('ZSCORE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
if known then
  return 1
end
return 0
"""

_SYNC = """
local want = {}
for i = 5, #ARGV, 2 do
  want[ARGV[i]] = tonumber(ARGV[i + 1])
end
local have = {}
local current = redis.call('HGETALL', KEYS[1])
for i = 1, #current, 2 do
  have[current[i]] = tonumber(current[i + 1])
  if want[current[i]] == nil then
    want[current[i]] = 0
  end
end
local back, gone = {}, {}
for field, count in pairs(want) do
  local delta = count - (have[field] or 0)
  if delta ~= 0 then
    if count > 0 then
      redis.call('HSET', KEYS[1], field, count)
    else
      redis.call('HDEL', KEYS[1], field)
    end
    local user = ARGV[1] .. 'user:' .. field
    local n = redis.call('HINCRBY', user, 'streams', delta)
    if n > 0 then
      redis.call('PERSIST', user)
      if n == delta then
        redis.call('HSET', user, 'seen', ARGV[2])
        table.insert(back, field)
        table.insert(back, redis.call('HGET', user, 'chosen') or 'online')
      end
    else
      redis.call('HSET', user, 'streams', 0, 'seen', ARGV[2])
      redis.call('EXPIRE', user, ARGV[4])
      if n - delta > 0 then
        table.insert(gone, field)
      end
    end
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {back, gone}
"""

_SWEEP = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 16)
local gone = {}
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  local hash = ARGV[2] .. 'replica:' .. id
  local counts = redis.call('HGETALL', hash)
  for i = 1, #counts, 2 do
    local user = ARGV[2] .. 'user:' .. counts[i]
    local n = redis.call('HINCRBY', user, 'streams', -tonumber(counts[i + 1]))
    if n <= 0 then
      redis.call('HSET', user, 'streams', 0, 'seen', ARGV[1])
      redis.call('EXPIRE', user, ARGV[3])
      table.insert(gone, counts[i])
    end
  end
  redis.call('DEL', hash)
end
return gone
"""


class RedisPresence:
    """Presence shared by every replica through Redis (see the module docstring)."""

    def __init__(
        self, client: aioredis.Redis | aioredis.RedisCluster, *, prefix: str, ttl_seconds: float
    ) -> None:
        self._redis = client
        self._base = f"{prefix}{{presence}}:"
        self.replica_id = uuid.uuid4().hex
        self._replicas = self._base + "replicas"
        self._mine = self._base + f"replica:{self.replica_id}"
        self._ttl = ttl_seconds
        self._connect = client.register_script(_CONNECT)
        self._disconnect = client.register_script(_DISCONNECT)
        self._choose = client.register_script(_CHOOSE)
        self._heartbeat = client.register_script(_HEARTBEAT)
        self._sync = client.register_script(_SYNC)
        self._sweep = client.register_script(_SWEEP)

    def _user(self, tenant: str, user_id: uuid.UUID) -> str:
        return f"{self._base}user:{tenant}:{user_id}"

    async def connected(self, tenant: str, user_id: uuid.UUID) -> Change | None:
        answer = await self._call(
            self._connect,
            [self._user(tenant, user_id), self._mine],
            [f"{tenant}:{user_id}", time.time(), REPLICA_KEEP_SECONDS],
        )
        return _change(tenant, user_id, answer)

    async def disconnected(self, tenant: str, user_id: uuid.UUID) -> Change | None:
        answer = await self._call(
            self._disconnect,
            [self._user(tenant, user_id), self._mine],
            [f"{tenant}:{user_id}", time.time(), KEEP_SECONDS],
        )
        return _change(tenant, user_id, answer)

    async def choose(self, tenant: str, user_id: uuid.UUID, status: Chosen) -> Change | None:
        answer = await self._call(
            self._choose, [self._user(tenant, user_id)], [status, KEEP_SECONDS]
        )
        return _change(tenant, user_id, answer)

    async def read(
        self, tenant: str, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, PresenceView]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    pipe.hmget(self._user(tenant, user_id), ["streams", "chosen", "seen"])
                rows = await pipe.execute()
        except (redis.exceptions.RedisError, OSError):
            raise DependencyUnavailable("redis") from None
        found = {}
        for user_id, (streams, chosen, seen) in zip(user_ids, rows, strict=True):
            status: Status = "offline"
            if streams is not None and int(streams) > 0:
                status = _chosen(chosen)
            found[user_id] = PresenceView(user_id, status, _when(float(seen) if seen else None))
        return found

    # -- replicas: heartbeat, sync and sweep (run by realtime/presence.py) -------------------

    async def heartbeat(self) -> bool:
        """Say this replica lives for another TTL; False when it had been swept as dead
        (its streams must be written back with `sync`)."""
        (known,) = await self._call(
            self._heartbeat,
            [self._replicas, self._mine],
            [time.time() + self._ttl, self.replica_id, REPLICA_KEEP_SECONDS],
        )
        return known == 1

    async def sync(self, streams: dict[tuple[str, uuid.UUID], int]) -> list[Change]:
        """Make this replica's counts in Redis what `streams` says (after it was swept as
        dead, or a count it could not write); the users this brings online or offline."""
        now = time.time()
        args: list[object] = [self._base, now, REPLICA_KEEP_SECONDS, KEEP_SECONDS]
        for (tenant, user_id), count in streams.items():
            args += [f"{tenant}:{user_id}", count]
        back, gone = await self._call(self._sync, [self._mine], args)
        assert isinstance(back, list)
        assert isinstance(gone, list)
        changes = []
        for field, chosen in zip(back[::2], back[1::2], strict=True):
            tenant, user_id = _field(field)
            changes.append(Change(tenant, PresenceView(user_id, _chosen(chosen), _when(now))))
        for field in gone:
            tenant, user_id = _field(field)
            changes.append(Change(tenant, PresenceView(user_id, "offline", _when(now))))
        return changes

    async def sweep(self) -> list[Change]:
        """Take back the streams of replicas whose heartbeat is overdue; the users this
        takes offline. Safe to run on several replicas at once."""
        now = time.time()
        answer = await self._call(self._sweep, [self._replicas], [now, self._base, KEEP_SECONDS])
        changes = []
        for field in answer:
            tenant, user_id = _field(field)
            changes.append(Change(tenant, PresenceView(user_id, "offline", _when(now))))
        return changes

    async def leave(self) -> list[Change]:
        """A replica shutting down: whatever streams it still counts are taken back now,
        not a TTL later; the users this takes offline."""
        try:
            await self._redis.zadd(self._replicas, {self.replica_id: 0})
        except (redis.exceptions.RedisError, OSError):
            raise DependencyUnavailable("redis") from None
        return await self.sweep()

    async def _call(self, script: object, keys: list[str], args: list[object]) -> list[object]:
        try:
            answer = await script(keys=keys, args=args)  # type: ignore[operator]
        except (redis.exceptions.RedisError, OSError):
            raise DependencyUnavailable("redis") from None
        return list(answer) if isinstance(answer, list) else [answer]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _chosen(value: object) -> Chosen:
    text = _text(value) if value is not None else "online"
    return "away" if text == "away" else "dnd" if text == "dnd" else "online"


def _field(value: object) -> tuple[str, uuid.UUID]:
    tenant, _, user_id = _text(value).rpartition(":")
    return tenant, uuid.UUID(user_id)


def _change(tenant: str, user_id: uuid.UUID, answer: list[object]) -> Change | None:
    if not answer or answer[0] != 1:
        return None
    status: Status = "offline" if _text(answer[1]) == "offline" else _chosen(answer[1])
    seen = _text(answer[2])
    return Change(tenant, PresenceView(user_id, status, _when(float(seen) if seen else None)))
