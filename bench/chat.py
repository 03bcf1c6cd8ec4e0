"""Chat send throughput: messages/s through HTTP onto PostgreSQL, and the latency of each.

Starts real `parley-auth serve` and `parley-chat serve` processes (one or more chat
replicas) on a fresh PostgreSQL database, then sends with many concurrent clients in two
shapes: everyone into one chat (every append takes the same per-chat counter row) and
everyone into a chat of their own (appends don't contend). Prints figures:

    uv run python bench/chat.py [--messages 4000] [--concurrency 32] [--replicas 1]
"""

from __future__ import annotations

import asyncio
import time
import uuid

import harness
import httpx

PASSWORD = "bench password 123"


def setup_users(auth_url: str, chat_url: str, count: int) -> tuple[list[dict[str, str]], str]:
    """`count` logged-in users of a fresh tenant with no send limit in the way."""
    tenant = f"bench-{uuid.uuid4().hex[:8]}"
    admin = {"Authorization": f"Bearer {harness.ADMIN}"}
    with httpx.Client(base_url=auth_url, timeout=60) as http:
        body = {"self_registration": True, "limits": {"messages_per_minute": 10_000_000}}
        http.put(f"/internal/v1/tenants/{tenant}", json=body, headers=admin).raise_for_status()
        headers = []
        for n in range(count):
            account = {"tenant": tenant, "username": f"user{n:04d}", "password": PASSWORD}
            http.post("/v1/auth/register", json=account).raise_for_status()
            token = http.post("/v1/auth/login", json=account).json()["access_token"]
            headers.append({"Authorization": f"Bearer {token}"})
    return headers, tenant


def create_chat(chat_url: str, owner: dict[str, str], members: list[str]) -> str:
    response = httpx.post(
        f"{chat_url}/v1/chats",
        json={"kind": "group", "title": "bench", "members": members},
        headers=owner,
        timeout=60,
    )
    response.raise_for_status()
    chat_id: str = response.json()["id"]
    return chat_id


async def send_all(
    urls: list[str], users: list[dict[str, str]], chats: list[str], total: int
) -> tuple[float, list[float]]:
    """Send `total` messages with one client per user; user i writes into chats[i]."""
    latencies: list[float] = []
    each = total // len(users)

    async def writer(index: int) -> None:
        url = urls[index % len(urls)]
        async with httpx.AsyncClient(base_url=url, headers=users[index], timeout=60) as http:
            path = f"/v1/chats/{chats[index]}/messages"
            for n in range(each):
                started = time.perf_counter()
                response = await http.post(path, json={"body": f"message {n} from {index}"})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 201:
                    raise RuntimeError(f"send answered {response.status_code}: {response.text}")

    started = time.perf_counter()
    await asyncio.gather(*(writer(i) for i in range(len(users))))
    return time.perf_counter() - started, latencies


def report(label: str, elapsed: float, latencies: list[float]) -> None:
    ms = [sample * 1000 for sample in latencies]
    rate = len(ms) / elapsed
    print(f"{label:<34} {rate:8.0f} msg/s  {harness.latency(ms)}   ({len(ms)} messages)")


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()

    with harness.parley(args.postgres, replicas=args.replicas) as (auth_url, urls):
        users, _ = setup_users(auth_url, urls[0], args.concurrency)
        names = [f"user{n:04d}" for n in range(args.concurrency)]
        print(
            f"{args.replicas} chat replica(s), {args.concurrency} concurrent senders, "
            f"PostgreSQL at {args.postgres.rsplit('@', 1)[-1]}"
        )
        # Warm-up: connections, caches, JWKS.
        warm = create_chat(urls[0], users[0], [])
        asyncio.run(send_all(urls, users[:1], [warm], 50))

        hot = create_chat(urls[0], users[0], names[1:])
        elapsed, latencies = asyncio.run(send_all(urls, users, [hot] * len(users), args.messages))
        report("all senders into one chat", elapsed, latencies)

        own = [create_chat(urls[0], user, []) for user in users]
        elapsed, latencies = asyncio.run(send_all(urls, users, own, args.messages))
        report("each sender into its own chat", elapsed, latencies)


if __name__ == "__main__":
    main()
