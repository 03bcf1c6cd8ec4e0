"""Write the values table of each chart's README from its values.yaml (`make chart-docs`),
the way helm-docs does: one row per key with a `# --` comment, its type, its default and the
comment. helm-docs is a Go binary from GitHub, which these machines cannot fetch; this reads
the same `# --` convention (tests/chart/test_values.py checks that every key has one).

    python tests/chart/values_table.py [--check] [CHART_DIRECTORY ...]

The table sits between the two markers below in the chart's README.md; `--check` exits 1
and names each README whose table differs from values.yaml, which
tests/chart/test_values_table.py runs so the tables never drift.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHARTS = ["charts/parley", "charts/parley-operator", "charts/parley-crds"]
START = "<!-- values-table:start (make chart-docs writes this table from values.yaml) -->"
END = "<!-- values-table:end -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.\-/]+):")


def documented(values_yaml: str) -> list[tuple[list[str], str]]:
    """(path of keys, description) of every key with a `# --` comment, in file order; the
    comment goes on over the `#` lines that follow it."""
    found = []
    path: list[tuple[int, str]] = []
    comment: list[str] | None = None
    for line in values_yaml.splitlines():
        stripped = line.strip()
        if stripped.startswith("# --"):
            comment = [stripped.removeprefix("# --").strip()]
            continue
        if stripped.startswith("#"):
            if comment is not None:
                comment.append(stripped.removeprefix("#").strip())
            continue
        match = KEY.match(line)
        if not match or stripped.startswith("- "):
            if not stripped:
                comment = None
            continue
        indent = len(match["indent"])
        path = [(i, k) for i, k in path if i < indent] + [(indent, match["key"])]
        if comment is not None:
            found.append(([key for _, key in path], " ".join(comment)))
        comment = None
    return found


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(chart: Path) -> str:
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text) or {}
    entries = documented(text)
    paths = [tuple(keys) for keys, _ in entries]
    rows = ["| Key | Type | Default | Description |", "|-----|------|---------|-------------|"]
    for keys, description in entries:
        # A section whose keys have rows of their own is described by them.
        if any(len(other) > len(keys) and other[: len(keys)] == tuple(keys) for other in paths):
            continue
        value: Any = values
        for key in keys:
            value = value[key]
        default = json.dumps(value, separators=(",", ":"))
        rows.append(
            f"| {_cell('.'.join(keys))} | {_type(value)} | `{_cell(default)}` "
            f"| {_cell(description)} |"
        )
    return "\n".join(rows)


def rewritten(chart: Path) -> tuple[Path, str, str]:
    """(README path, its text now, its text with the table written in)."""
    readme = chart / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{readme}: add the markers {START} and {END} where the table goes")
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    return readme, text, f"{before}{START}\n{table(chart)}\n{END}{after}"


def main(arguments: list[str]) -> int:
    check = "--check" in arguments
    charts = [REPO / a for a in arguments if a != "--check"] or [REPO / c for c in CHARTS]
    stale = []
    for chart in charts:
        readme, now, wanted = rewritten(chart)
        if now != wanted:
            stale.append(readme)
            if not check:
                readme.write_text(wanted)
    if check and stale:
        for readme in stale:
            shown = readme.relative_to(REPO) if readme.is_relative_to(REPO) else readme
            print(f"{shown}: values table differs from values.yaml; run `make chart-docs`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
