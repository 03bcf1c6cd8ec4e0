"""`parley-chat serve` and `parley-chat migrate` (docs/api.md "Running it")."""

from __future__ import annotations

from parley_chat.app import create_app
from parley_chat.settings import ChatSettings
from parley_chat.storage import migrations
from parley_core import service

cli = service.service_cli("chat", ChatSettings, create_app, migrations_package=migrations.PACKAGE)
