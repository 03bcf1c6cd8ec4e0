"""The three images cannot be built here (no Docker engine; the images workflow builds them),
so the one Dockerfile they share is held to the invariants that matter: multi-stage,
installed from uv.lock with `uv sync --locked --package $PACKAGE --no-dev`, a slim Python
base, a non-root numeric user, and nothing to write outside /tmp so a read-only root
filesystem works. Each image is the Dockerfile with PACKAGE set to its member and a target:
`service` for auth and chat, `operator` for the operator."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from support import charts

DOCKERFILE = charts.DOCKERFILE
IMAGES = charts.IMAGES


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def stages(dockerfile: Path) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """Each stage by name: the image or stage it starts from, and its instructions."""
    result: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    current: list[tuple[str, str]] = []
    for instruction in instructions(dockerfile):
        if instruction[0] == "FROM":
            base, _, name = instruction[1].partition(" AS ")
            current = []
            result[name.strip()] = (base.strip(), current)
        if result:
            current.append(instruction)
    return result


def target(dockerfile: Path, name: str) -> list[tuple[str, str]]:
    """Everything the `name` target runs at run time: its stage and the stages it builds on."""
    found = stages(dockerfile)
    base, own = found[name]
    if base in found:
        return [*target(dockerfile, base), *own]
    return own


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    defaults = {}
    for keyword, rest in instructions(dockerfile):
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            defaults[name] = value
    return defaults


def resolve(text: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


def test_the_image_is_multi_stage_on_a_slim_python_base() -> None:
    defaults = arg_defaults(DOCKERFILE)
    found = stages(DOCKERFILE)
    bases = [resolve(base, defaults) for base, _ in found.values() if base not in found]
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    # The runtime starts from the same Python the virtualenv was built with.
    assert len(set(bases)) == 1


def test_every_image_is_a_target_of_the_dockerfile_and_a_workspace_member() -> None:
    found = stages(DOCKERFILE)
    workspace = tomllib.loads((charts.REPO / "pyproject.toml").read_text())
    for member, (folder, name) in IMAGES.items():
        assert name in found, name
        assert folder in workspace["tool"]["uv"]["workspace"]["members"]
        pyproject = tomllib.loads((charts.REPO / folder / "pyproject.toml").read_text())
        assert pyproject["project"]["name"] == member
        # The image runs the member's console script of the same name.
        assert member in pyproject["project"]["scripts"]
    # Without --target a build is a service.
    assert list(found)[-1] == "service"


def test_dependencies_come_from_the_lock_for_the_package_only() -> None:
    runs = [rest for keyword, rest in instructions(DOCKERFILE) if keyword == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    for sync in syncs:
        assert '--locked --package "${PACKAGE}" --no-dev' in sync, sync
    # PACKAGE has no default: a build that forgets it fails instead of building some member.
    assert "PACKAGE" not in arg_defaults(DOCKERFILE)
    assert [run for run in runs if 'test -n "${PACKAGE}"' in run]
    # Nothing is installed around the lock.
    assert not [run for run in runs if re.search(r"pip install (?!.*\buv==)", run)]


def test_the_operator_image_carries_no_web_framework() -> None:
    # `uv sync --package parley-operator` installs that member and its own dependencies
    # only; the operator declares neither parley-core nor Litestar.
    pyproject = tomllib.loads((charts.REPO / "operator" / "pyproject.toml").read_text())
    for dependency in pyproject["project"]["dependencies"]:
        name = re.split(r"[\[<>=~! ]", dependency)[0].lower()
        assert name not in {"litestar", "uvicorn", "parley-core"}, dependency


@pytest.mark.parametrize(("member", "image"), IMAGES.items())
def test_the_runtime_runs_the_member_as_a_numeric_non_root_user(
    member: str, image: tuple[str, str]
) -> None:
    runtime = target(DOCKERFILE, image[1])
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), users[-1]
    assert int(user) >= 10000, users[-1]
    assert group.isdigit(), users[-1]
    assert int(group) > 0, users[-1]
    # The charts' securityContext runs the same user.
    for chart in ("parley", "parley-operator"):
        values = (charts.CHARTS / chart / "values.yaml").read_text()
        assert f"runAsUser: {user}" in values
    # The entry point execs the console script PACKAGE names (an exec-form ENTRYPOINT cannot
    # expand a build argument).
    (entrypoint,) = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == '["parley-entrypoint"]'
    (launcher,) = [rest for keyword, rest in runtime if keyword == "RUN" and "entrypoint" in rest]
    written = """'#!/bin/sh\\nexec %s "$@"\\n' "${PACKAGE}" > /usr/local/bin/parley-entrypoint"""
    assert written in launcher
    # Only the virtualenv comes from the build stage: no compiler, no uv, no source.
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"]


@pytest.mark.parametrize(("member", "image"), IMAGES.items())
def test_the_image_writes_nothing_at_run_time_outside_tmp(
    member: str, image: tuple[str, str]
) -> None:
    everything = " ".join(f"{keyword} {rest}" for keyword, rest in instructions(DOCKERFILE))
    # Byte-code is compiled at build time and never written at run time.
    assert "UV_COMPILE_BYTECODE=1" in everything
    runtime = " ".join(rest for keyword, rest in target(DOCKERFILE, image[1]) if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime
    if image[1] == "service":
        # The services' data directory (generated files in the embedded default) is in /tmp.
        assert "PARLEY_DATA_DIR=/tmp/" in runtime
        assert "PARLEY_HOST=0.0.0.0" in runtime
    # No VOLUME: the charts decide what is mounted where.
    assert "VOLUME" not in {keyword for keyword, _ in instructions(DOCKERFILE)}


def test_the_operator_and_the_services_keep_their_own_ports_and_commands() -> None:
    operator = dict(stages(DOCKERFILE)["operator"][1])
    service = dict(stages(DOCKERFILE)["service"][1])
    assert "8080/healthz" in operator["HEALTHCHECK"]
    assert operator["CMD"].startswith('["run", "--standalone"')
    assert "EXPOSE" not in operator
    assert "8000/healthz" in service["HEALTHCHECK"]
    assert service["CMD"] == '["serve"]'
    assert service["EXPOSE"] == "8000"


def test_the_build_context_keeps_every_workspace_manifest() -> None:
    ignored = [
        line.strip()
        for line in (charts.REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".venv", ".git", ".tools"):
        assert needed in ignored
    workspace = tomllib.loads((charts.REPO / "pyproject.toml").read_text())
    for member in workspace["tool"]["uv"]["workspace"]["members"]:
        top = member.split("/")[0]
        assert top not in ignored, member
        assert member not in ignored, member
    for kept in ("uv.lock", "pyproject.toml", "*.toml", "**/pyproject.toml"):
        assert kept not in ignored
