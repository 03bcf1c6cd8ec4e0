"""`parley-operator run`: kopf's own command line, with Parley's handlers and settings.

Everything after `run` is kopf's `run` options (`--namespace`, `--all-namespaces`,
`--liveness`, `--peering`, `--verbose`, `--log-format json`, ...). Without `--peering`
the operator runs standalone (one replica, no peering objects); see docs/operator.md
for running several replicas with peering.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import kopf.cli
import pydantic

from parley_operator import logs
from parley_operator import main as registration
from parley_operator.settings import OperatorSettings

PEERING_OPTIONS = ("--standalone", "--peering", "-P")


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
    return arguments if asked else [*arguments, "--standalone"]


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
