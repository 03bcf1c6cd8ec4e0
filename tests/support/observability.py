"""What the observability tests share: the dashboards and alert rules under test, their
PromQL as promtool and a real Prometheus take it, scrapes of a service's /metrics, the
Prometheus tools themselves, and traffic that touches every metric a dashboard shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from support import auth, chat, services
from support.processes import ServiceProcess, free_port
from support.stream import StreamClient, token_of

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "charts" / "parley" / "dashboards"
RULES = REPO / "charts" / "parley" / "rules"
DOCS = REPO / "docs" / "observability.md"

# Grafana's variables in the panels' queries, as a test fills them in. Any other `$` left
# in a query is a variable nobody defined, and fails the tests.
RATE_INTERVAL = "5s"
"""Five samples at the real Prometheus test's 1 s scrape interval."""
NAMESPACE = "parley"
VARIABLES = {"$__rate_interval": RATE_INTERVAL, "$namespace": NAMESPACE}


@dataclass(frozen=True)
class Stack:
    """Both services as real processes (tests/observability/conftest.py)."""

    auth: ServiceProcess
    chat: ServiceProcess

    def logs(self) -> list[str]:
        """Every line both have written so far."""
        return (self.auth.log() + self.chat.log()).splitlines()


# -- dashboards and rules ------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    expr: str

    @property
    def name(self) -> str:
        return f"{self.dashboard} / {self.panel}"

    def promql(self) -> str:
        """The query with Grafana's variables filled in, as Prometheus receives it."""
        expr = self.expr
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{self.name}: an undefined variable in {expr}"
        return expr


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def queries() -> list[Query]:
    return [
        Query(name, panel["title"], target["expr"])
        for name, dashboard in dashboards().items()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule
        for path in sorted(RULES.glob("*.yaml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


_METRIC = re.compile(r"\bparley_[a-zA-Z0-9_]+")


def metric_names(expr: str) -> set[str]:
    """The Parley series an expression reads (all of Parley's names start with parley_)."""
    return set(_METRIC.findall(expr))


# -- scraping ------------------------------------------------------------------------------


def scrape(url: str) -> dict[str, float]:
    """A service's /metrics as {series: value}, each series written as Prometheus prints
    it: `name{label="value",...}` with labels sorted."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def exported_names(url: str) -> set[str]:
    """Every series name a service exports (a histogram as its _bucket, _sum, _count)."""
    return {series.partition("{")[0] for series in scrape(url)}


def value(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    wanted = {f'{key}="{label}"' for key, label in labels.items()}
    total = 0.0
    for series, sample in samples.items():
        series_name, _, rest = series.partition("{")
        if series_name == name and wanted <= set(rest.rstrip("}").split(",")):
            total += sample
    return total


# -- the Prometheus tools ------------------------------------------------------------------


def tool(name: str) -> str:
    """`promtool` or `prometheus` from Debian's `prometheus` package (.ci/run installs it)."""
    path = shutil.which(name)
    if path is None:
        services.unavailable(name, "not on PATH; apt-get install prometheus")
    assert path is not None
    return path


def promtool(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [tool("promtool"), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


class PrometheusServer:
    """A real `prometheus` scraping `targets` ({job: base URL}) every second."""

    def __init__(self, work_dir: Path, targets: dict[str, str], rule_files: list[Path]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = work_dir
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {
                    "job_name": job,
                    "static_configs": [
                        {
                            "targets": [url.removeprefix("http://")],
                            "labels": {"namespace": NAMESPACE},
                        }
                    ],
                }
                for job, url in targets.items()
            ],
        }
        self._config = work_dir / "prometheus.yml"
        self._config.write_text(yaml.safe_dump(config))
        self._log = work_dir / "prometheus.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    tool("prometheus"),
                    f"--config.file={self._config}",
                    f"--storage.tsdb.path={self._dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self._process.poll() is None, self._log.read_text()
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"prometheus did not start:\n{self._log.read_text()}")

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = response.json()
        assert body.get("status") == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def get(self, path: str) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}{path}", timeout=10).json()
        assert body.get("status") == "success", body
        return body


# -- traffic -------------------------------------------------------------------------------


def traffic(auth_url: str, chat_url: str) -> None:
    """One round of everything the dashboards show: registrations, logins that succeed,
    fail and are refused (the stack allows 3 failures an account), a chat, live delivery
    over a stream, a resume that replays, a send over the tenant's limit, a refresh token
    used twice, readiness probes."""
    with auth.AuthApi(auth_url) as accounts:
        api = chat.ChatApi(chat_url, accounts)
        try:
            tenant = api.tenant(limits={"messages_per_minute": 4})
            alice, bob = api.users(2, tenant)
            room = api.group(alice, bob)["id"]
            with StreamClient(chat_url, token_of(bob), via_query=True) as stream:
                for number in range(3):
                    api.send(alice, room, f"round {number}")
                stream.messages(3)
                stream.send({"type": "resume", "cursors": {room: 0}})
                stream.messages(3)
                stream.send({"type": "ping"})
                stream.recv_until(lambda frames: any(f["type"] == "pong" for f in frames))
            api.send(alice, room, "the last one allowed")
            refused = api.http.post(
                f"/v1/chats/{room}/messages", json={"body": "too fast"}, headers=alice.headers
            )
            assert refused.status_code == 429, refused.text
            wrong = {"tenant": tenant, "username": alice.username, "password": "not the password"}
            statuses = [
                accounts.http.post("/v1/auth/login", json=wrong).status_code for _ in range(4)
            ]
            assert statuses == [401, 401, 401, 429], statuses
            pair = accounts.login(bob.account)
            for _ in range(2):
                accounts.http.post(
                    "/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
                )
            for url in (auth_url, chat_url):
                assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        finally:
            api.close()
