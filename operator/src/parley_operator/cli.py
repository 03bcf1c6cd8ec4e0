"""`parley-operator run`: kopf's own command line, with Parley's handlers and settings.

Everything after `run` is kopf's `run` options (`--namespace`, `--all-namespaces`,
`--liveness`, `--peering`, `--verbose`, `--log-format json`, ...). Without `--peering`
the operator runs standalone (one replica, no peering objects); see docs/operator.md
for running several replicas with peering.

With `--peering` and no `--priority`, each process draws a random priority: kopf pauses
*every* replica when peers share a priority, and the replicas of one Deployment cannot be
given distinct ones. With distinct priorities the highest one works and the others stand
by until its peering record expires.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Sequence

import kopf.cli
import pydantic

from parley_operator import logs
from parley_operator import main as registration
from parley_operator.settings import OperatorSettings

PEERING_OPTIONS = ("--standalone", "--peering", "-P")
PRIORITY_OPTIONS = ("--priority", "-p")
# Wide, so two replicas almost never draw the same one (then both would pause until one
# restarts). An operator run by hand to take over needs `--priority` above it, not `--dev`.
PRIORITY_RANGE = 1_000_000


def kopf_arguments(argv: Sequence[str]) -> list[str]:
    """kopf's arguments for `argv`: `run` defaults to `--standalone` unless peering is asked
    for on the command line or in kopf's KOPF_RUN_PEERING."""
    arguments = list(argv)
    if arguments[:1] != ["run"] or os.environ.get("KOPF_RUN_PEERING"):
        return arguments
    asked = any(
        argument in PEERING_OPTIONS or argument.startswith(("--peering=", "-P"))
        for argument in arguments[1:]
    )
    if not asked:
        return [*arguments, "--standalone"]
    if "--standalone" in arguments or _has_priority(arguments[1:]):
        return arguments
    return [*arguments, f"--priority={1 + secrets.randbelow(PRIORITY_RANGE)}"]


def _has_priority(options: Sequence[str]) -> bool:
    if os.environ.get("KOPF_RUN_PRIORITY"):
        return True
    return any(
        option in PRIORITY_OPTIONS or option.startswith(("--priority=", "-p")) for option in options
    )


def main(argv: Sequence[str] | None = None) -> None:
    arguments = kopf_arguments(sys.argv[1:] if argv is None else argv)
    controls = kopf.cli.CLIControls()
    if arguments[:1] == ["run"] and "--help" not in arguments:
        # Settings are read for `run` only, so `--help` works without any.
        try:
            settings = OperatorSettings()
        except pydantic.ValidationError as exc:
            sys.exit(f"parley-operator: the PARLEY_* settings are missing or invalid: {exc}")
        controls.registry = registration.build_registry(
            settings, json_logs=logs.wants_json(arguments)
        )
    kopf.cli.main(args=arguments, prog_name="parley-operator", obj=controls)
