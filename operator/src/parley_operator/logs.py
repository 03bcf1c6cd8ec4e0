"""JSON log lines with the services' ECS field names, for `parley-operator run --log-format=json`.

kopf's own JSON lines name their fields `timestamp`, `severity` and `object`; the
services write `@timestamp`, `log.level`, `message` and `service.name`
(docs/observability.md, "Logs"), so one log pipeline reads both. The formatter is not
parley-core's: that package carries Litestar, which the operator must not
(docs/style.md "Layout"). kopf installs its handler before any of Parley's code runs,
so the startup handler swaps the formatter in (`use_json`); the few lines kopf writes
before that keep kopf's field names.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

SERVICE_NAME = "parley-operator"
# Attributes every LogRecord has, and those kopf adds for its own formatters;
# anything else came from `extra=` and is written as a field.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "k8s_ref",
    "k8s_skip",
    "settings",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `@timestamp`, `log.level`, `log.logger`, `message`,
    `service.name`, and for a line about a Tenant its `tenant` and `kubernetes.namespace`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "@timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": record.getMessage(),
            "service.name": SERVICE_NAME,
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, Mapping):
            if ref.get("kind") == "Tenant":
                # The Tenant's name is the tenant slug, the services' `tenant` field.
                line["tenant"] = ref.get("name")
            else:
                line["kubernetes.object"] = f"{ref.get('kind')}/{ref.get('name')}"
            if ref.get("namespace"):
                line["kubernetes.namespace"] = ref["namespace"]
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["error.stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def wants_json(arguments: Sequence[str]) -> bool:
    """Whether kopf's `run` arguments ask for `--log-format=json` (or `--log-format json`)."""
    for position, argument in enumerate(arguments):
        if argument == "--log-format" and position + 1 < len(arguments):
            return arguments[position + 1].lower() == "json"
        if argument.startswith("--log-format="):
            return argument.partition("=")[2].lower() == "json"
    return False


def use_json() -> None:
    """Give kopf's handlers on the root logger the ECS formatter. Only kopf's: others (a
    test runner's capture, say) keep theirs."""
    for handler in logging.getLogger().handlers:
        if type(handler.formatter).__module__.startswith("kopf."):
            handler.setFormatter(JsonFormatter())
