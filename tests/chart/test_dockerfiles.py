"""The three images cannot be built here (no Docker engine; the images workflow builds them),
so their Dockerfiles are held to the invariants that matter: multi-stage, installed from
uv.lock with `uv sync --locked --package <member> --no-dev`, a slim Python base, a non-root
numeric user, and nothing to write outside /tmp so a read-only root filesystem works."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from support import charts

IMAGES = {
    "services/auth": "parley-auth",
    "services/chat": "parley-chat",
    "operator": "parley-operator",
}


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


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(dockerfile):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    defaults = {}
    for keyword, rest in instructions(dockerfile):
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            defaults[name] = value
    return defaults


def resolve(text: str, defaults: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


@pytest.mark.parametrize(("folder", "member"), IMAGES.items())
def test_the_image_is_multi_stage_on_a_slim_python_base(folder: str, member: str) -> None:
    dockerfile = charts.REPO / folder / "Dockerfile"
    defaults = arg_defaults(dockerfile)
    bases = [
        resolve(rest.split()[0], defaults)
        for keyword, rest in instructions(dockerfile)
        if keyword == "FROM"
    ]
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", base), base
    # The runtime starts from the same Python the virtualenv was built with.
    assert len(set(bases)) == 1


@pytest.mark.parametrize(("folder", "member"), IMAGES.items())
def test_dependencies_come_from_the_lock_for_that_member_only(folder: str, member: str) -> None:
    dockerfile = charts.REPO / folder / "Dockerfile"
    runs = [rest for keyword, rest in instructions(dockerfile) if keyword == "RUN"]
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    for sync in syncs:
        assert f"--locked --package {member} --no-dev" in sync, sync
    # Nothing is installed around the lock.
    assert not [run for run in runs if re.search(r"pip install (?!.*\buv==)", run)]
    pyproject = tomllib.loads((charts.REPO / folder / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == member


@pytest.mark.parametrize(("folder", "member"), IMAGES.items())
def test_the_runtime_runs_the_member_as_a_numeric_non_root_user(folder: str, member: str) -> None:
    dockerfile = charts.REPO / folder / "Dockerfile"
    runtime = stages(dockerfile)[-1]
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
    (entrypoint,) = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    pyproject = tomllib.loads((charts.REPO / folder / "pyproject.toml").read_text())
    assert f'["{member}"]' == entrypoint
    assert member in pyproject["project"]["scripts"]
    # Only the virtualenv comes from the build stage: no compiler, no uv, no source.
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=build /app/.venv /app/.venv"]


@pytest.mark.parametrize(("folder", "member"), IMAGES.items())
def test_the_image_writes_nothing_at_run_time_outside_tmp(folder: str, member: str) -> None:
    dockerfile = charts.REPO / folder / "Dockerfile"
    everything = " ".join(f"{keyword} {rest}" for keyword, rest in instructions(dockerfile))
    # Byte-code is compiled at build time and never written at run time.
    assert "UV_COMPILE_BYTECODE=1" in everything
    runtime = " ".join(rest for keyword, rest in stages(dockerfile)[-1] if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime
    if member != "parley-operator":
        # The services' data directory (generated files in the embedded default) is in /tmp.
        assert "PARLEY_DATA_DIR=/tmp/" in runtime
        assert "PARLEY_HOST=0.0.0.0" in runtime
    # No VOLUME: the charts decide what is mounted where.
    assert "VOLUME" not in {keyword for keyword, _ in instructions(dockerfile)}


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
