"""Stream delivery across two replicas: frames/s delivered, and how long after the POST
was acknowledged each frame reached each socket.

Starts one `parley-auth serve` and two `parley-chat serve` replicas on a fresh PostgreSQL
database and the local Redis, opens N sockets spread over both replicas (members of one
group chat), and has M senders POST into it, alternating replicas. Prints figures:

    uv run python bench/stream.py [--sockets 50] [--senders 10] [--messages 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

# The script's folder is on sys.path: bench/chat.py's helpers start the services.
import harness
import httpx
import websockets

PASSWORD = "bench password 123"


async def register(auth_url: str, tenant: str, count: int) -> list[tuple[str, str]]:
    """`count` users of `tenant`: (username, access token)."""
    users = []
    async with httpx.AsyncClient(base_url=auth_url, timeout=60) as http:
        for n in range(count):
            account = {"tenant": tenant, "username": f"user{n:04d}", "password": PASSWORD}
            (await http.post("/v1/auth/register", json=account)).raise_for_status()
            token = (await http.post("/v1/auth/login", json=account)).json()["access_token"]
            users.append((account["username"], token))
    return users


async def run(args: argparse.Namespace, auth_url: str, replicas: list[str]) -> None:
    tenant = "bench"
    admin = {"Authorization": f"Bearer {harness.ADMIN}"}
    body = {"self_registration": True, "limits": {"messages_per_minute": 10_000_000}}
    async with httpx.AsyncClient(base_url=auth_url) as http:
        (
            await http.put(f"/internal/v1/tenants/{tenant}", json=body, headers=admin)
        ).raise_for_status()
    users = await register(auth_url, tenant, args.sockets + args.senders)
    readers, senders = users[: args.sockets], users[args.sockets :]
    owner = {"Authorization": f"Bearer {senders[0][1]}"}
    members = [name for name, _ in users if name != senders[0][0]]
    async with httpx.AsyncClient(base_url=replicas[0], timeout=60) as http:
        created = await http.post(
            "/v1/chats", json={"kind": "group", "title": "bench", "members": members}, headers=owner
        )
        created.raise_for_status()
        chat_id = created.json()["id"]

    total = args.senders * args.messages
    acked: dict[int, float] = {}
    posted: dict[int, float] = {}
    received: list[tuple[int, float]] = []
    done = asyncio.Event()

    async def read(index: int, token: str) -> None:
        url = replicas[index % len(replicas)].replace("http://", "ws://") + "/v1/stream"
        headers = {"Authorization": f"Bearer {token}"}
        async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
            assert json.loads(await ws.recv())["type"] == "ready"
            ready.release()
            count = 0
            while count < total:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message":
                    received.append((frame["message"]["seq"], time.perf_counter()))
                    count += 1
        if len(received) >= total * len(readers):
            done.set()

    async def send(index: int, token: str) -> None:
        url = replicas[index % len(replicas)]
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            for n in range(args.messages):
                started = time.perf_counter()
                response = await http.post(
                    f"/v1/chats/{chat_id}/messages", json={"body": f"{index}:{n}"}
                )
                response.raise_for_status()
                seq = response.json()["seq"]
                posted[seq], acked[seq] = started, time.perf_counter()

    ready = asyncio.Semaphore(0)
    reading = [asyncio.create_task(read(i, token)) for i, (_, token) in enumerate(readers)]
    for _ in readers:
        await ready.acquire()
    started = time.perf_counter()
    await asyncio.gather(*(send(i, token) for i, (_, token) in enumerate(senders)))
    await asyncio.wait_for(asyncio.gather(*reading), timeout=300)
    elapsed = time.perf_counter() - started

    after_ack = [(at - acked[seq]) * 1000 for seq, at in received]
    after_post = [(at - posted[seq]) * 1000 for seq, at in received]
    early = sum(delay < 0 for delay in after_ack) / len(after_ack)
    print(
        f"{len(replicas)} replicas, {len(readers)} sockets, {len(senders)} senders, "
        f"{total} messages -> {len(received)} frames in {elapsed:.1f} s"
    )
    print(f"delivered        {len(received) / elapsed:8.0f} frames/s")
    print(f"ack -> frame     {harness.latency(after_ack)}   ({early:.0%} of frames beat the ack)")
    print(f"post -> frame    {harness.latency(after_post)}")


def main() -> None:
    parser = harness.arguments(__doc__)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--sockets", type=int, default=50)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=50, help="per sender")
    args = parser.parse_args()
    cheap_hashes = {"PARLEY_ARGON2_TIME_COST": "1", "PARLEY_ARGON2_MEMORY_KIB": "64"}
    with harness.parley(
        args.postgres,
        replicas=2,
        auth_env=cheap_hashes,
        chat_env={"PARLEY_REDIS_URL": args.redis},
    ) as (auth_url, replicas):
        asyncio.run(run(args, auth_url, replicas))


if __name__ == "__main__":
    main()
