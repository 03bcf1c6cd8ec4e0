"""The settings tables in the docs, rendered from the settings classes (`make docs-settings`).

A document marks where a class's table goes:

    <!-- settings parley_auth.settings:AuthSettings -->
    ...the table, rewritten by this module...
    <!-- /settings -->

The table lists the variables of the fields the class itself declares (what it adds to
the settings class it extends), a group field giving one row per field of the group; the
meaning is the field's attribute docstring. `python -m parley_core.settings_doc --check
FILE...` fails when a document is not what the code renders; the test suite runs it.
Classes are named in the documents, not imported here: parley-core imports no service.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

_BLOCK = re.compile(
    r"(<!-- settings (?P<name>[\w.]+:\w+) -->\n)(?P<table>.*?)(<!-- /settings -->)", re.DOTALL
)


@dataclass(frozen=True)
class Variable:
    """One environment variable and the field it sets (`path`: attribute names from the
    settings object, `("database", "url")` for `settings.database.url`)."""

    name: str
    path: tuple[str, ...]
    field: FieldInfo


def variables(cls: type[BaseSettings], *, inherited: bool = False) -> Iterator[Variable]:
    """The variables `cls` reads, in declaration order; with `inherited=False` only those of
    the fields `cls` declares itself."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    delimiter = str(cls.model_config.get("env_nested_delimiter") or "")
    skipped = set() if inherited else _inherited_fields(cls)
    for name, field in cls.model_fields.items():
        if name in skipped:
            continue
        group = field.annotation
        if delimiter and isinstance(group, type) and issubclass(group, BaseModel):
            for member, member_field in group.model_fields.items():
                env = f"{prefix}{name}{delimiter}{member}".upper()
                yield Variable(env, (name, member), member_field)
        else:
            yield Variable(f"{prefix}{name}".upper(), (name,), field)


def _inherited_fields(cls: type[BaseSettings]) -> set[str]:
    return {
        name
        for base in cls.__bases__
        if issubclass(base, BaseSettings) and base is not BaseSettings
        for name in base.model_fields
    }


def table(cls: type[BaseSettings]) -> str:
    """The markdown table of the variables `cls` adds: variable, meaning, default."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for variable in variables(cls):
        if not variable.field.description:
            raise ValueError(f"{cls.__name__}: {variable.name} has no attribute docstring")
        meaning = " ".join(variable.field.description.split()).replace("|", "\\|")
        lines.append(f"| `{variable.name}` | {meaning} | {_default(variable.field)} |")
    return "\n".join(lines) + "\n"


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value in ("", []):
        return "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def _load(name: str) -> type[BaseSettings]:
    module, _, attribute = name.partition(":")
    cls = getattr(importlib.import_module(module), attribute)
    if not (isinstance(cls, type) and issubclass(cls, BaseSettings)):
        raise TypeError(f"{name} is not a settings class")
    return cls


def render(document: str) -> str:
    """`document` with every marked table rendered from its class."""
    return _BLOCK.sub(lambda block: block[1] + table(_load(block["name"])) + block[4], document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 when a file is stale"
    )
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        current = path.read_text()
        rendered = render(current)
        if rendered != current:
            stale.append(path)
            if not args.check:
                path.write_text(rendered)
    if args.check and stale:
        names = ", ".join(map(str, stale))
        print(f"settings tables out of date in {names}: run `make docs-settings`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
