"""A real Prometheus (Debian's `prometheus` package) scrapes both services while traffic
flows, loads the alert rules, and answers every dashboard query with data.

Without the binary the test skips locally; under PARLEY_REQUIRE_SERVICES=1 (CI) it fails.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from support import observability
from support.observability import PrometheusServer, Stack, metric_names


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.25)


def test_a_real_prometheus_scraping_both_services_answers_every_dashboard_query(
    stack: Stack, tmp_path: Path
) -> None:
    targets = {"parley-auth": stack.auth.url, "parley-chat": stack.chat.url}
    rule_files = sorted(observability.RULES.glob("*.yaml"))
    with PrometheusServer(tmp_path, targets, rule_files) as prometheus:

        def both_up() -> bool:
            up = prometheus.query('up{namespace="parley"} == 1')
            return {sample["metric"]["job"] for sample in up} == set(targets)

        _wait_until(both_up, 30, "both targets to be scraped")
        stop = threading.Event()
        failures: list[BaseException] = []

        def flow() -> None:
            while not stop.is_set():
                try:
                    observability.traffic(stack.auth.url, stack.chat.url)
                except BaseException as exc:
                    failures.append(exc)
                    return

        sender = threading.Thread(target=flow, name="traffic")
        sender.start()
        try:
            # Every panel averages over the last 5 s (RATE_INTERVAL): let traffic fill two.
            time.sleep(12)
            # The delivery canary's panels read `parley-canary`, an optional process of
            # its own: test_dashboards checks them against its registry, and
            # tests/integration/chat/test_canary.py runs it against two replicas.
            empty = [
                query.name
                for query in observability.queries()
                if not any(name.startswith("parley_canary_") for name in metric_names(query.expr))
                and not prometheus.query(query.promql())
            ]
        finally:
            stop.set()
            sender.join(timeout=60)
        assert not failures, failures
        assert not empty, f"dashboard queries with no data: {empty}"

        # The live numbers, not only their presence: traffic moved them.
        persisted = prometheus.query(
            'sum(rate(parley_chat_messages_persisted_total{namespace="parley"}[10s]))'
        )
        assert float(persisted[0]["value"][1]) > 0
        delay = prometheus.query(
            "histogram_quantile(0.99, sum by (le) "
            '(rate(parley_stream_delivery_delay_seconds_bucket{namespace="parley"}[30s])))'
        )
        assert 0 < float(delay[0]["value"][1]) < 5
        # The alert rules loaded and evaluate cleanly; nothing fires on a healthy stack.
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert len(rules) == len(observability.alert_rules())
        assert all(rule["health"] == "ok" for rule in rules), rules
        assert all(rule["state"] == "inactive" for rule in rules), rules
