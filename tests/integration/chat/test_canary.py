"""The delivery canary (`parley-canary`) against two real chat replicas, one of which is
killed with SIGKILL: the canary reports what the kill cost (a reconnect) and that nothing
was lost, duplicated or delivered out of order (docs/observability.md "Delivery canary")."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import auth, chat, services
from support.processes import ServiceProcess, free_port, stop_process

PASSWORD = "canary password"


def scrape(url: str) -> dict[str, float]:
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.TransportError:
        return {}
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("parley_canary_") and not sample.labels
    }


def wait_for(
    url: str, holds: Callable[[dict[str, float]], bool], what: str, timeout: float = 60
) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        values = scrape(url)
        if values and holds(values):
            return values
        assert time.monotonic() < deadline, f"never: {what}; last {values}"
        time.sleep(0.05)


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[ServiceProcess, list[ServiceProcess]]]:
    url = services.create_postgres_database()
    try:
        chat.migrated(auth.migrated(url))
        auth_env = {
            "PARLEY_DATABASE_URL": url,
            "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
            "PARLEY_DATA_DIR": str(tmp_path / "auth"),
            **auth.PROCESS_ENV,
        }
        with ServiceProcess("parley_auth", auth_env, log_dir=tmp_path) as auth_process:
            chat_env = {
                "PARLEY_DATABASE_URL": url,
                "PARLEY_ADMIN_TOKEN": auth.ADMIN_TOKEN,
                "PARLEY_AUTH_URL": auth_process.url,
                "PARLEY_REDIS_URL": services.redis_url(),
                "PARLEY_REDIS_PREFIX": services.redis_prefix(),
            }
            with (
                ServiceProcess("parley_chat", chat_env, log_dir=tmp_path) as a,
                ServiceProcess("parley_chat", chat_env, log_dir=tmp_path) as b,
            ):
                yield auth_process, [a, b]
    finally:
        services.drop_postgres_database(url)


def test_a_replica_killed_costs_the_canary_a_reconnect_and_loses_nothing(
    replicas: tuple[ServiceProcess, list[ServiceProcess]], tmp_path: Path
) -> None:
    auth_process, (a, b) = replicas
    with auth.AuthApi(auth_process.url) as accounts:
        tenant = accounts.tenant()
    port = free_port()
    metrics = f"http://127.0.0.1:{port}/metrics"
    env = {
        "PATH": str(Path(sys.executable).parent),
        "PARLEY_CANARY_API_URL": a.url,
        "PARLEY_CANARY_AUTH_URL": auth_process.url,
        "PARLEY_CANARY_TENANT": tenant,
        "PARLEY_CANARY_PASSWORD": PASSWORD,
        "PARLEY_CANARY_REPLICAS": f"{a.url},{b.url}",
        "PARLEY_CANARY_INTERVAL_SECONDS": "0.2",
        "PARLEY_CANARY_LOSS_SECONDS": "30",
        "PARLEY_CANARY_METRICS_PORT": str(port),
    }
    log = (tmp_path / "canary.log").open("wb")
    canary = subprocess.Popen(
        [str(Path(sys.executable).parent / "parley-canary")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        before = wait_for(
            metrics,
            lambda m: (
                m["parley_canary_streams_connected"] == 2
                and m["parley_canary_messages_sent_total"] >= 5
            ),
            "both streams open and five messages sent",
        )
        assert before["parley_canary_stream_reconnects_total"] == 0

        b.stop(signal.SIGKILL)

        after = wait_for(
            metrics,
            lambda m: (
                m["parley_canary_stream_reconnects_total"] >= 1
                and m["parley_canary_streams_connected"] == 2
                and m["parley_canary_messages_sent_total"]
                >= before["parley_canary_messages_sent_total"] + 10
                # Every acknowledged message delivered on both streams, none missing.
                and m["parley_canary_messages_received_total"]
                == 2 * m["parley_canary_messages_sent_total"]
            ),
            "the lost stream back, on the other replica, and every message on both streams",
        )
    finally:
        stop_process(canary, signal.SIGTERM, timeout=10)
        log.close()

    assert after["parley_canary_messages_lost_total"] == 0
    assert after["parley_canary_messages_duplicated_total"] == 0
    assert after["parley_canary_messages_out_of_order_total"] == 0
    assert after["parley_canary_send_errors_total"] == 0
    assert after["parley_canary_delivery_delay_seconds_count"] >= 2 * 15
