"""parley_core.settings_doc: the settings tables in the docs are the code's, and every
variable they name reaches its field."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from parley_auth.settings import AuthSettings
from parley_chat.settings import ChatSettings
from parley_core import settings_doc
from parley_core.settings import CoreSettings
from parley_operator.settings import OperatorSettings

ROOT = Path(__file__).parents[3]
DOCUMENTS = ["README.md", "docs/operator.md"]
SETTINGS = [CoreSettings, AuthSettings, ChatSettings, OperatorSettings]

# Values a field's validator accepts where the generic sample (a URL) would not.
SAMPLES = {"PARLEY_FORWARDED_ALLOW_IPS": "10.0.0.0/8"}


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_settings_tables_in_the_docs_are_rendered_from_the_settings_classes(
    document: str,
) -> None:
    text = (ROOT / document).read_text()
    assert "<!-- settings " in text
    assert settings_doc.render(text) == text, f"{document} is stale: run `make docs-settings`"


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_every_documented_variable_reaches_its_field(
    cls: type[BaseSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = list(settings_doc.variables(cls, inherited=True))
    expected: dict[str, Any] = {}
    for variable in variables:
        raw, value = _sample(variable)
        monkeypatch.setenv(variable.name, raw)
        expected[variable.name] = value
    settings = cls(_env_file=None)
    for variable in variables:
        found: Any = settings
        for attribute in variable.path:
            found = getattr(found, attribute)
        if isinstance(found, SecretStr):
            found = found.get_secret_value()
        assert found == expected[variable.name], variable.name


def test_the_grouped_variables_keep_their_flat_names() -> None:
    names = {variable.name: variable.path for variable in settings_doc.variables(ChatSettings)}
    assert names["PARLEY_STREAM_QUEUE_SIZE"] == ("stream", "queue_size")
    assert names["PARLEY_AUTH_BREAKER_RESET_SECONDS"] == ("auth", "breaker_reset_seconds")
    core = {variable.name: variable.path for variable in settings_doc.variables(CoreSettings)}
    assert core["PARLEY_DATABASE_POOL_SIZE"] == ("database", "pool_size")
    assert core["PARLEY_REDIS_PREFIX"] == ("redis", "prefix")


def test_a_field_without_a_docstring_cannot_be_documented() -> None:
    class Undocumented(CoreSettings):
        secret_knob: int = 1

    with pytest.raises(ValueError, match="PARLEY_SECRET_KNOB has no attribute docstring"):
        settings_doc.table(Undocumented)


def _sample(variable: settings_doc.Variable) -> tuple[str, Any]:
    """A value other than the default, as the environment spells it and as the field holds it."""
    if variable.name in SAMPLES:
        return SAMPLES[variable.name], SAMPLES[variable.name]
    kind = _without_none(variable.field.annotation)
    default = variable.field.default
    if kind is bool:
        return ("false" if default else "true"), not default
    if kind is int:
        number = 1 if default is None else default + 1
        return str(number), number
    if kind is float:
        return str(default + 0.5), default + 0.5
    if kind is Path:
        return "/srv/parley-sample", Path("/srv/parley-sample")
    if typing.get_origin(kind) is list:
        return "https://a.example", ["https://a.example"]
    url = f"http://{variable.name.lower().replace('_', '-')}.example"
    return url, url


def _without_none(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        (kind,) = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return kind
    return annotation
